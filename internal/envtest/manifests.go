package envtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// DecodeManifests splits multi-document YAML (or JSON) into objects,
// skipping empty documents, as kubectl does.
func DecodeManifests(data []byte) ([]*unstructured.Unstructured, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var objs []*unstructured.Unstructured
	for {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return objs, nil
			}
			return nil, err
		}
		if len(m) == 0 {
			continue
		}
		objs = append(objs, &unstructured.Unstructured{Object: m})
	}
}

// ReadManifests reads and decodes a manifest file.
func ReadManifests(path string) ([]*unstructured.Unstructured, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	objs, err := DecodeManifests(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return objs, nil
}

// Apply applies the objects with server-side apply (as `kubectl apply
// --server-side` would), putting namespaced objects that name none into
// namespace ns. The server validates strictly: unknown fields are errors.
func (e *Env) Apply(ctx context.Context, ns string, objs ...*unstructured.Unstructured) error {
	for _, o := range objs {
		o = o.DeepCopy()
		if o.GetNamespace() == "" && ns != "" {
			namespaced, err := e.Client.IsObjectNamespaced(o)
			if err != nil {
				return fmt.Errorf("%s %s: %w", o.GetKind(), o.GetName(), err)
			}
			if namespaced {
				o.SetNamespace(ns)
			}
		}
		err := e.Client.Apply(ctx, client.ApplyConfigurationFromUnstructured(o),
			client.FieldOwner("nebula-envtest"), client.ForceOwnership)
		if err != nil {
			return fmt.Errorf("%s %s: %w", o.GetKind(), o.GetName(), err)
		}
	}
	return nil
}
