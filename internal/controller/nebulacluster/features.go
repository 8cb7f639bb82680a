package nebulacluster

import (
	"fmt"

	"github.com/nebula-open/nebula-br/api/v1alpha1"
)

// EventFieldsNotActedOn is the reason of the Warning event that names the
// fields the operator keeps but does not act on (once per change of the
// list).
const EventFieldsNotActedOn = v1alpha1.ClusterReasonFieldsNotActedOn

// defaultReference is the workload kind the operator runs components as.
const defaultReference = "statefulsets.apps"

// FieldsNotActedOn lists the fields of the spec that are set and that this
// operator keeps without acting on them: features upstream's operator runs
// and this one does not (yet). A flag counts when it is true (false is what
// the operator does anyway), an object when it is present, a string when
// it is not empty.
func FieldsNotActedOn(nc *v1alpha1.NebulaCluster) []string {
	s := &nc.Spec
	var out []string
	add := func(set bool, path string) {
		if set {
			out = append(out, path)
		}
	}
	isTrue := func(b *bool) bool { return b != nil && *b }
	add(s.Exporter != nil, "spec.exporter")
	add(s.Console != nil, "spec.console")
	add(s.LogRotate != nil, "spec.logRotate")
	add(s.SSLCerts != nil, "spec.sslCerts")
	add(s.AlpineImage != nil && *s.AlpineImage != "", "spec.alpineImage")
	add(s.CoredumpPreservation != nil, "spec.coredumpPreservation")
	add(isTrue(s.EnableAutoFailover), "spec.enableAutoFailover")
	add(s.FailoverPeriod != nil && s.FailoverPeriod.Duration != 0, "spec.failoverPeriod")
	if ref := s.Reference; ref != nil && (ref.Name != defaultReference || (ref.Version != "" && ref.Version != "v1")) {
		out = append(out, fmt.Sprintf("spec.reference (%s %s: components run as statefulsets.apps v1)", ref.Name, ref.Version))
	}
	if m := s.Metad; m != nil {
		add(m.License != nil, "spec.metad.license")
		add(m.LicenseManagerURL != nil && *m.LicenseManagerURL != "", "spec.metad.licenseManagerURL")
		add(m.Service != nil && len(m.Service.Selector) > 0, "spec.metad.service.selector")
	}
	if st := s.Storaged; st != nil {
		add(isTrue(st.EnableAutoBalance), "spec.storaged.enableAutoBalance")
		add(isTrue(st.EnableForceUpdate), "spec.storaged.enableForceUpdate")
		add(isTrue(st.ConcurrentTransfer), "spec.storaged.concurrentTransfer")
		add(st.Service != nil && len(st.Service.Selector) > 0, "spec.storaged.service.selector")
	}
	return out
}
