package nebulacluster

import (
	"slices"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nebula-open/nebula-br/api/v1alpha1"
)

func TestFieldsNotActedOnList(t *testing.T) {
	nc := &v1alpha1.NebulaCluster{Spec: v1alpha1.NebulaClusterSpec{
		Metad:    &v1alpha1.MetadSpec{},
		Storaged: &v1alpha1.StoragedSpec{EnableAutoBalance: ptr(false), EnableForceUpdate: ptr(false)},
		Graphd:   &v1alpha1.GraphdSpec{},
		// What the operator does anyway: not reported.
		Reference:          &v1alpha1.WorkloadReference{Name: "statefulsets.apps", Version: "v1"},
		EnableAutoFailover: ptr(false),
		AlpineImage:        ptr(""),
	}}
	if got := FieldsNotActedOn(nc); len(got) != 0 {
		t.Fatalf("defaults reported: %v", got)
	}
	nc.Spec.Reference.Name = "statefulsets.apps.kruise.io"
	nc.Spec.EnableAutoFailover = ptr(true)
	nc.Spec.FailoverPeriod = &metav1.Duration{Duration: 5 * time.Minute}
	nc.Spec.SSLCerts = &v1alpha1.SSLCertsSpec{}
	nc.Spec.CoredumpPreservation = &v1alpha1.CoredumpPreservation{}
	nc.Spec.AlpineImage = ptr("alpine")
	nc.Spec.Console = &v1alpha1.ConsoleSpec{}
	nc.Spec.Exporter = &v1alpha1.ExporterSpec{}
	nc.Spec.LogRotate = &v1alpha1.LogRotate{}
	nc.Spec.Metad.License = &v1alpha1.LicenseSpec{}
	nc.Spec.Metad.LicenseManagerURL = ptr("lm:9119")
	nc.Spec.Metad.Service = &v1alpha1.ServiceSpec{Selector: map[string]string{"a": "b"}}
	nc.Spec.Storaged.EnableAutoBalance = ptr(true)
	nc.Spec.Storaged.EnableForceUpdate = ptr(true)
	nc.Spec.Storaged.ConcurrentTransfer = ptr(true)
	got := FieldsNotActedOn(nc)
	for _, want := range []string{"spec.exporter", "spec.console", "spec.logRotate", "spec.sslCerts", "spec.alpineImage",
		"spec.coredumpPreservation", "spec.enableAutoFailover", "spec.failoverPeriod", "spec.metad.license",
		"spec.metad.licenseManagerURL", "spec.metad.service.selector", "spec.storaged.enableAutoBalance",
		"spec.storaged.enableForceUpdate", "spec.storaged.concurrentTransfer"} {
		if !slices.Contains(got, want) {
			t.Errorf("%s not reported: %v", want, got)
		}
	}
	if !slices.ContainsFunc(got, func(s string) bool { return len(s) > 15 && s[:15] == "spec.reference " }) {
		t.Errorf("another workload kind not reported: %v", got)
	}
}

func TestImage(t *testing.T) {
	for _, tc := range []struct{ img, version, want string }{
		{"vesoft/nebula-metad", "v3.8.0", "vesoft/nebula-metad:v3.8.0"},
		{"vesoft/nebula-metad", "", "vesoft/nebula-metad"},
		{"vesoft/nebula-metad:v3.6.0", "latest", "vesoft/nebula-metad:v3.6.0"},
		{"localhost:5000/nebula-lite", "latest", "localhost:5000/nebula-lite:latest"},
		{"localhost:5000/nebula-lite:t1", "latest", "localhost:5000/nebula-lite:t1"},
		{"nebula-lite@sha256:abcd", "latest", "nebula-lite@sha256:abcd"},
	} {
		if got := image(tc.img, tc.version); got != tc.want {
			t.Errorf("image(%q, %q) = %q, want %q", tc.img, tc.version, got, tc.want)
		}
	}
	if imageTag("localhost:5000/x") != "" || imageTag("x:1@sha256:ab") != "1" {
		t.Error("imageTag")
	}
}
