// etcd at the version k8s.io/kubernetes requires, built from the same module graph as the control plane.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
