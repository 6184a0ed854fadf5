// goprof writes profiles with Go's own runtime/pprof, for mapprof's reader
// tests: DIR/heap.pb.gz (every allocation recorded), DIR/mutex.pb.gz and
// DIR/block.pb.gz (every event recorded), from small named workloads.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sync"
	"time"
)

var keep [][]byte

//go:noinline
func allocBig() {
	for i := 0; i < 64; i++ {
		keep = append(keep, make([]byte, 64<<10))
	}
}

//go:noinline
func allocSmall() {
	for i := 0; i < 1000; i++ {
		keep = append(keep, make([]byte, 512))
	}
}

//go:noinline
func contend(mu *sync.Mutex, wg *sync.WaitGroup) {
	defer wg.Done()
	for i := 0; i < 200; i++ {
		mu.Lock()
		time.Sleep(10 * time.Microsecond)
		mu.Unlock()
	}
}

//go:noinline
func blockOnChan() {
	ch := make(chan int)
	go func() {
		time.Sleep(20 * time.Millisecond)
		ch <- 1
	}()
	<-ch
}

func write(dir, name string) {
	f, err := os.Create(filepath.Join(dir, name+".pb.gz"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := pprof.Lookup(name).WriteTo(f, 0); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	f.Close()
}

func main() {
	runtime.MemProfileRate = 1
	runtime.SetMutexProfileFraction(1)
	runtime.SetBlockProfileRate(1)
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: goprof DIR")
		os.Exit(2)
	}
	allocBig()
	allocSmall()
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go contend(&mu, &wg)
	}
	wg.Wait()
	for i := 0; i < 3; i++ {
		blockOnChan()
	}
	runtime.GC()
	write(os.Args[1], "heap")
	write(os.Args[1], "mutex")
	write(os.Args[1], "block")
	runtime.KeepAlive(keep)
}
