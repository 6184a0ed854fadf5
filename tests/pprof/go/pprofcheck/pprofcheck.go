// pprofcheck validates pprof files with google/pprof's own parser:
// ParseUncompressed (after gunzip, so the real decode error is reported
// instead of pprof's "unrecognized profile format") and CheckValid.
//
//	pprofcheck FILE...   prints "ok FILE samples=N locations=N functions=N
//	                     mappings=N" per file; on the first bad file prints
//	                     "FILE: error" to stderr and exits 1.
package main

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"os"

	"github.com/google/pprof/profile"
)

func check(path string) (*profile.Profile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(data) >= 2 && data[0] == 0x1f && data[1] == 0x8b {
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			return nil, fmt.Errorf("gzip: %v", err)
		}
		if data, err = io.ReadAll(zr); err != nil {
			return nil, fmt.Errorf("gzip: %v", err)
		}
	}
	p, err := profile.ParseUncompressed(data)
	if err != nil {
		return nil, err
	}
	if err := p.CheckValid(); err != nil {
		return nil, fmt.Errorf("CheckValid: %v", err)
	}
	return p, nil
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: pprofcheck FILE...")
		os.Exit(2)
	}
	for _, path := range os.Args[1:] {
		p, err := check(path)
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", path, err)
			os.Exit(1)
		}
		fmt.Printf("ok %s samples=%d locations=%d functions=%d mappings=%d\n", path,
			len(p.Sample), len(p.Location), len(p.Function), len(p.Mapping))
	}
}
