# hostcalls.awk — from `strace -f -qq -k -e trace=madvise,munmap,brk,...`
# output, count the madvise, munmap and brk calls the traced program made
# itself: a call whose stack runs through the shim's own code (its tables,
# dumps, stacks) or the libraries it brings (libunwind, libdw, libelf,
# zlib) is the profiler's, not the host's.
# Prints "madvise N munmap N brk N".
function flush() {
    if (call != "" && !own)
        n[call]++
    call = ""
    own = 0
}
/^[0-9]+ / {
    flush()
    if ($0 ~ /<unfinished \.\.\.>/)
        next
    if (match($0, /^[0-9]+ +(madvise|munmap|brk)\(/) ||
        match($0, /<\.\.\. (madvise|munmap|brk) resumed>/)) {
        s = substr($0, RSTART, RLENGTH)
        gsub(/^[0-9]+ +|^<\.\.\. |\(| resumed>/, "", s)
        call = s
    }
    next
}
/^ > / {
    if (call != "" && $0 ~ /libunwind|libdw|libelf|libz\.so|libmapprof\.so\((shim_|dump|pprof|stack|own_)/)
        own = 1
}
END {
    flush()
    printf "madvise %d munmap %d brk %d\n", n["madvise"], n["munmap"], n["brk"]
}
