// Command app is the test and demo workload: a static binary for a
// FROM-scratch image, so that tests need no registry.
//
//	app sleep                      wait for SIGTERM
//	app serve -listen :8080 -file F  serve /health while F is readable
//	app cat FILE                   print FILE (docker exec reads secrets with it)
//	app check FILE                 exit 0 if FILE is readable (an exec-form healthcheck)
//	app exit CODE                  exit at once with CODE (a task that fails)
package main

import (
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: app sleep|serve|cat|check|exit")
		os.Exit(2)
	}
	args := os.Args[2:]
	switch os.Args[1] {
	case "sleep":
		wait()
	case "serve":
		fs := flag.NewFlagSet("serve", flag.ExitOnError)
		listen := fs.String("listen", ":8080", "address")
		file := fs.String("file", "", "file that must be readable for /health to answer 200")
		fs.Parse(args)
		http.HandleFunc("/health", func(w http.ResponseWriter, _ *http.Request) {
			if *file != "" {
				if _, err := os.Stat(*file); err != nil {
					http.Error(w, "file missing", http.StatusServiceUnavailable)
					return
				}
			}
			io.WriteString(w, "ok\n")
		})
		go func() {
			if err := http.ListenAndServe(*listen, nil); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
		}()
		wait()
	case "cat":
		f, err := os.Open(args[0])
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		io.Copy(os.Stdout, f)
	case "check":
		if _, err := os.Stat(args[0]); err != nil {
			os.Exit(1)
		}
	case "exit":
		code, _ := strconv.Atoi(args[0])
		os.Exit(code)
	default:
		fmt.Fprintln(os.Stderr, "unknown command", os.Args[1])
		os.Exit(2)
	}
}

func wait() {
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGTERM, syscall.SIGINT)
	<-c
}
