// Command kstatus prints the verdict of sigs.k8s.io/cli-utils' kstatus (the library Flux and
// kpt judge health with) for one Kubernetes object.
//
// Usage:
//
//	kstatus [-o text|json] GROUP/VERSION RESOURCE NAMESPACE NAME
//	    fetches the object with the dynamic client from the cluster in KUBECONFIG
//	    (e.g. `kstatus apps/v1 deployments default web`, `kstatus v1 pods kube-system x`;
//	    NAMESPACE is "" or "-" for cluster-scoped objects). Default output: text.
//	kstatus [-o text|json] [-]
//	    reads one object (JSON or YAML, e.g. from `kubectl get ... -o json`) from stdin.
//	    Default output: json.
//
// Text output is one line, `<Status>: <message>` (Current, InProgress, Failed, Terminating,
// NotFound, Unknown). JSON output is one line, {"status":..,"message":..,"conditions":[..]}.
// The exit code is 0 whenever a verdict was computed, whatever it is.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

type verdict struct {
	Status     string             `json:"status"`
	Message    string             `json:"message"`
	Conditions []status.Condition `json:"conditions,omitempty"`
}

func main() {
	output := flag.String("o", "", "output format: text or json (default: text when fetching, json when reading stdin)")
	flag.Usage = func() {
		fmt.Fprintf(os.Stderr, "usage: kstatus [-o text|json] GROUP/VERSION RESOURCE NAMESPACE NAME\n"+
			"       kstatus [-o text|json] [-]    (object as JSON or YAML on stdin)\n")
		flag.PrintDefaults()
	}
	flag.Parse()

	var v verdict
	var err error
	switch args := flag.Args(); {
	case len(args) == 4:
		if *output == "" {
			*output = "text"
		}
		v, err = fetch(args[0], args[1], args[2], args[3])
	case len(args) == 0 || (len(args) == 1 && args[0] == "-"):
		if *output == "" {
			*output = "json"
		}
		v, err = fromReader(os.Stdin)
	default:
		flag.Usage()
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "kstatus:", err)
		os.Exit(1)
	}

	switch *output {
	case "json":
		line, _ := json.Marshal(v)
		fmt.Println(string(line))
	case "text":
		fmt.Printf("%s: %s\n", v.Status, v.Message)
	default:
		fmt.Fprintf(os.Stderr, "kstatus: unknown output format %q\n", *output)
		os.Exit(2)
	}
}

func fetch(groupVersion, resource, namespace, name string) (verdict, error) {
	gv, err := schema.ParseGroupVersion(groupVersion)
	if err != nil {
		return verdict{}, err
	}
	config, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(
		clientcmd.NewDefaultClientConfigLoadingRules(), &clientcmd.ConfigOverrides{}).ClientConfig()
	if err != nil {
		return verdict{}, fmt.Errorf("loading kubeconfig: %w", err)
	}
	client, err := dynamic.NewForConfig(config)
	if err != nil {
		return verdict{}, err
	}
	ri := client.Resource(gv.WithResource(resource))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var obj *unstructured.Unstructured
	if namespace == "" || namespace == "-" {
		obj, err = ri.Get(ctx, name, metav1.GetOptions{})
	} else {
		obj, err = ri.Namespace(namespace).Get(ctx, name, metav1.GetOptions{})
	}
	if apierrors.IsNotFound(err) {
		return verdict{Status: status.NotFoundStatus.String(), Message: err.Error()}, nil
	}
	if err != nil {
		return verdict{}, err
	}
	return compute(obj)
}

func fromReader(r io.Reader) (verdict, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return verdict{}, fmt.Errorf("reading stdin: %w", err)
	}
	// YAML or JSON; decoded by the unstructured JSON scheme so numbers stay int64.
	data, err = yaml.ToJSON(data)
	if err != nil {
		return verdict{}, fmt.Errorf("reading the object from stdin: %w", err)
	}
	obj := &unstructured.Unstructured{}
	if err := obj.UnmarshalJSON(data); err != nil {
		return verdict{}, fmt.Errorf("reading the object from stdin: %w", err)
	}
	return compute(obj)
}

func compute(obj *unstructured.Unstructured) (verdict, error) {
	result, err := status.Compute(obj)
	if err != nil {
		return verdict{}, fmt.Errorf("computing the status of %s %s: %w", obj.GetKind(), obj.GetName(), err)
	}
	return verdict{Status: result.Status.String(), Message: result.Message, Conditions: result.Conditions}, nil
}
