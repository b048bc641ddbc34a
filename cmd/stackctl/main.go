// Command stackctl deploys Docker Swarm stacks with versioned secrets and configs.
package main

import "os"

func main() { os.Exit(run(os.Args[1:], newDeps())) }
