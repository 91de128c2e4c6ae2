// Command network-policies enforces Kubernetes NetworkPolicies on one node with
// sigs.k8s.io/kube-network-policies (nftables + nfqueue), run as a process beside the kubelet
// rather than as a pod: its upstream main only knows the in-cluster config, and the e2e
// cluster starts it before any pod can run. NRI stays off: containerd's NRI socket is one path
// per machine, and two e2e clusters may run side by side.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"
	"sigs.k8s.io/kube-network-policies/pkg/networkpolicy"
)

func main() {
	kubeconfig := flag.String("kubeconfig", "", "kubeconfig of the cluster")
	nodeName := flag.String("node-name", "", "name of the Node whose pods are policed")
	queueID := flag.Int("nfqueue-id", 100, "nfqueue number the policed packets are sent to")
	table := flag.String("nftables-table", "kube-network-policies", "name of the nftables table of the rules")
	klog.InitFlags(nil)
	flag.Parse()
	if *kubeconfig == "" || *nodeName == "" {
		fmt.Fprintln(os.Stderr, "usage: network-policies -kubeconfig FILE -node-name NODE [-nfqueue-id N]")
		os.Exit(2)
	}
	if err := run(*kubeconfig, networkpolicy.Config{
		QueueID:             *queueID,
		NodeName:            *nodeName,
		NFTableName:         *table,
		NRIdisabled:         true,
		NetfilterBug1766Fix: true,
	}); err != nil {
		klog.Errorf("network-policies: %v", err)
		os.Exit(1)
	}
}

func run(kubeconfig string, config networkpolicy.Config) error {
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	restConfig, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return err
	}
	client, err := kubernetes.NewForConfig(restConfig)
	if err != nil {
		return err
	}
	factory := informers.NewSharedInformerFactory(client, 0)
	controller, err := networkpolicy.NewController(client,
		factory.Networking().V1().NetworkPolicies(), factory.Core().V1().Namespaces(), factory.Core().V1().Pods(),
		nil, nil, nil, nil, config)
	if err != nil {
		return err
	}
	factory.Start(ctx.Done())
	// Run removes its nftables table when the context ends (SIGTERM from cluster.sh down).
	return controller.Run(ctx)
}
