// Command coredns is CoreDNS with only the plugins the e2e cluster's DNS uses: the kubernetes
// plugin answers cluster names, and no forward plugin exists, so no query ever leaves the node.
// (CoreDNS' own main links in every plugin, the cloud providers' SDKs among them; this one
// builds in a fraction of the time.)
package main

import (
	"github.com/coredns/coredns/coremain"

	_ "github.com/coredns/coredns/plugin/bind"
	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/loadbalance"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/ready"
)

func main() {
	coremain.Run()
}
