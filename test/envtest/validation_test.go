package envtest_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/nebula-open/nebula-br/internal/envtest"
)

// Manifests the validation cases start from; %s is where a case puts the
// part it changes.

func backupYAML(config string) string {
	return `
apiVersion: apps.nebula-graph.io/v1alpha1
kind: NebulaBackup
metadata:
  generateName: nb-
spec:
  config:
` + indent(config, 4)
}

func restoreYAML(spec string) string {
	return `
apiVersion: apps.nebula-graph.io/v1alpha1
kind: NebulaRestore
metadata:
  generateName: nr-
spec:
` + indent(spec, 2)
}

func cronYAML(spec string) string {
	return `
apiVersion: apps.nebula-graph.io/v1alpha1
kind: NebulaCronBackup
metadata:
  generateName: ncb-
spec:
` + indent(spec, 2) + `
  backupTemplate:
    config:
      clusterName: nebula
      s3:
        bucket: nebula-br-test
`
}

func clusterYAML(spec string) string {
	return `
apiVersion: apps.nebula-graph.io/v1alpha1
kind: NebulaCluster
metadata:
  generateName: nc-
spec:
` + indent(spec, 2)
}

const s3OK = `s3:
  region: us-east-1
  bucket: nebula-br-test
  endpoint: http://127.0.0.1:9000
  secretName: s3`

const componentsOK = `graphd:
  image: vesoft/nebula-graphd
metad:
  image: vesoft/nebula-metad
storaged:
  image: vesoft/nebula-storaged`

func indent(s string, n int) string {
	pad := strings.Repeat(" ", n)
	lines := strings.Split(strings.Trim(s, "\n"), "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = pad + l
		}
	}
	return strings.Join(lines, "\n") + "\n"
}

// TestValidation checks that the CRDs reject bad specs, each with a message
// that says what is wrong, and accept the good variants next to them.
func TestValidation(t *testing.T) {
	env := envtest.Shared(t)
	ns := env.Namespace(t)

	bad := []struct {
		name     string
		manifest string
		want     []string
	}{
		// NebulaBackup
		{"backup without spec", `
apiVersion: apps.nebula-graph.io/v1alpha1
kind: NebulaBackup
metadata:
  generateName: nb-
`, []string{"spec: Required value"}},
		{"backup without config", `
apiVersion: apps.nebula-graph.io/v1alpha1
kind: NebulaBackup
metadata:
  generateName: nb-
spec:
  autoRemoveFinished: true
`, []string{"spec.config: Required value"}},
		{"backup without clusterName", backupYAML(s3OK),
			[]string{"spec.config.clusterName: Required value"}},
		{"backup with empty clusterName", backupYAML("clusterName: \"\"\n" + s3OK),
			[]string{"spec.config.clusterName", "at least 1 chars long"}},
		{"backup with a clusterName that names no cluster", backupYAML("clusterName: Nebula_1\n" + s3OK),
			[]string{"spec.config.clusterName", "clusterName must be a NebulaCluster name"}},
		{"backup with negative concurrency", backupYAML("clusterName: nebula\nconcurrency: -1\n" + s3OK),
			[]string{"spec.config.concurrency", "greater than or equal to 1"}},
		{"backup with zero concurrency", backupYAML("clusterName: nebula\nconcurrency: 0\n" + s3OK),
			[]string{"spec.config.concurrency", "greater than or equal to 1"}},
		{"backup without s3 or gs", backupYAML("clusterName: nebula"),
			[]string{"spec.config", "set exactly one of s3 and gs"}},
		{"backup with both s3 and gs", backupYAML("clusterName: nebula\n" + s3OK + "\ngs:\n  bucket: nebula-br-test"),
			[]string{"spec.config", "set exactly one of s3 and gs"}},
		{"backup with a gs URL for bucket", backupYAML("clusterName: nebula\ngs:\n  bucket: gs://nebula-br-test"),
			[]string{"spec.config.gs.bucket", "not a URL"}},
		{"backup without bucket", backupYAML("clusterName: nebula\ns3:\n  region: us-east-1"),
			[]string{"spec.config.s3.bucket: Required value"}},
		{"backup with a URL for bucket", backupYAML("clusterName: nebula\ns3:\n  bucket: s3://nebula-br-test"),
			[]string{"spec.config.s3.bucket", "not a URL"}},
		{"backup with an endpoint that is no URL", backupYAML("clusterName: nebula\ns3:\n  bucket: b-1\n  endpoint: minio:9000"),
			[]string{"spec.config.s3.endpoint", "must be an http:// or https:// URL"}},
		{"backup with a bad base backup name", backupYAML("clusterName: nebula\nbaseBackupName: yesterday\n" + s3OK),
			[]string{"spec.config.baseBackupName", "like BACKUP_2023_02_12_10_04_16"}},
		{"backup with an unknown field", backupYAML("clusterName: nebula\nstorage: s3://x\n" + s3OK),
			[]string{`unknown field "spec.config.storage"`}},
		{"backup with a bad pull policy", `
apiVersion: apps.nebula-graph.io/v1alpha1
kind: NebulaBackup
metadata:
  generateName: nb-
spec:
  imagePullPolicy: Sometimes
  config:
    clusterName: nebula
` + indent(s3OK, 4), []string{"spec.imagePullPolicy", `supported values: "Always", "Never", "IfNotPresent"`}},

		// NebulaRestore
		{"restore with neither config nor br", restoreYAML("autoRemoveFailed: true"),
			[]string{"set exactly one of spec.config and spec.br"}},
		{"restore with both config and br", restoreYAML(`config:
  clusterName: nebula
  backupName: BACKUP_2023_02_12_10_04_16
` + indent(s3OK, 2) + `br:
  clusterName: nebula
  backupName: BACKUP_2023_02_12_10_04_16
` + indent(s3OK, 2)), []string{"set exactly one of spec.config and spec.br"}},
		{"restore (br) without clusterName", restoreYAML("br:\n  backupName: BACKUP_2023_02_12_10_04_16\n" + indent(s3OK, 2)),
			[]string{"spec.br.clusterName: Required value"}},
		{"restore (config) without backupName", restoreYAML("config:\n  clusterName: nebula\n" + indent(s3OK, 2)),
			[]string{"spec.config.backupName: Required value"}},
		{"restore with a bad backup name", restoreYAML("config:\n  clusterName: nebula\n  backupName: latest\n" + indent(s3OK, 2)),
			[]string{"spec.config.backupName", "backupName must name a backup"}},
		{"restore with negative concurrency", restoreYAML("br:\n  clusterName: nebula\n  backupName: BACKUP_2023_02_12_10_04_16\n  concurrency: -5\n" + indent(s3OK, 2)),
			[]string{"spec.br.concurrency", "greater than or equal to 1"}},
		{"restore without s3 or gs", restoreYAML("config:\n  clusterName: nebula\n  backupName: BACKUP_2023_02_12_10_04_16"),
			[]string{"spec.config", "set exactly one of s3 and gs"}},

		// NebulaCronBackup
		{"cron without schedule", cronYAML("pause: false"), []string{"spec.schedule: Required value"}},
		{"cron with words for a schedule", cronYAML(`schedule: "every day"`),
			[]string{"spec.schedule", "must be a cron expression of five fields"}},
		{"cron with four fields", cronYAML(`schedule: "0 2 * *"`),
			[]string{"spec.schedule", "must be a cron expression of five fields"}},
		{"cron with six fields", cronYAML(`schedule: "0 0 2 * * *"`),
			[]string{"spec.schedule", "must be a cron expression of five fields"}},
		{"cron with an unknown descriptor", cronYAML(`schedule: "@fortnightly"`),
			[]string{"spec.schedule", "must be a cron expression"}},
		{"cron with days for maxReservedTime", cronYAML("schedule: \"@daily\"\nmaxReservedTime: 7d"),
			[]string{"spec.maxReservedTime", "must be a duration such as 720h"}},
		{"cron keeping zero backups", cronYAML("schedule: \"@daily\"\nmaxBackups: 0"),
			[]string{"spec.maxBackups", "greater than or equal to 1"}},
		{"cron without backupTemplate", `
apiVersion: apps.nebula-graph.io/v1alpha1
kind: NebulaCronBackup
metadata:
  generateName: ncb-
spec:
  schedule: "@daily"
`, []string{"spec.backupTemplate: Required value"}},
		{"cron with a template without clusterName", `
apiVersion: apps.nebula-graph.io/v1alpha1
kind: NebulaCronBackup
metadata:
  generateName: ncb-
spec:
  schedule: "@daily"
  backupTemplate:
    config:
` + indent(s3OK, 6), []string{"spec.backupTemplate.config.clusterName: Required value"}},

		// NebulaCluster
		{"cluster without metad", clusterYAML("graphd:\n  image: g\nstoraged:\n  image: s"),
			[]string{"spec.metad: Required value"}},
		{"cluster component without image", clusterYAML("graphd:\n  replicas: 1\nmetad:\n  image: m\nstoraged:\n  image: s"),
			[]string{"spec.graphd.image: Required value"}},
		{"cluster with negative replicas", clusterYAML("graphd:\n  image: g\n  replicas: -1\nmetad:\n  image: m\nstoraged:\n  image: s"),
			[]string{"spec.graphd.replicas", "greater than or equal to 0"}},
		{"cluster with no metad replica", clusterYAML("graphd:\n  image: g\nmetad:\n  image: m\n  replicas: 0\nstoraged:\n  image: s"),
			[]string{"spec.metad", "metad needs at least 1 replica"}},
		{"cluster with both storaged claim forms", clusterYAML(`graphd:
  image: g
metad:
  image: m
storaged:
  image: s
  dataVolumeClaim:
    resources:
      requests:
        storage: 1Gi
  dataVolumeClaims:
  - resources:
      requests:
        storage: 1Gi`), []string{"spec.storaged", "set dataVolumeClaims or the older dataVolumeClaim, not both"}},
		{"cluster with a bad agent heartbeat", clusterYAML(componentsOK + "\nenableBR: true\nagent:\n  heartbeatInterval: 0"),
			[]string{"spec.agent.heartbeatInterval", "greater than or equal to 1"}},
		{"cluster with a negative agent rate limit", clusterYAML(componentsOK + "\nenableBR: true\nagent:\n  rateLimit: -1"),
			[]string{"spec.agent.rateLimit", "greater than or equal to 0"}},
		{"cluster with enableBR as a string", clusterYAML(componentsOK + "\nenableBR: \"yes\""),
			[]string{"spec.enableBR", "must be of type boolean"}},
		{"cluster with an unknown component field", clusterYAML(componentsOK + "\n  storageClaim: {}"),
			[]string{`unknown field "spec.storaged.storageClaim"`}},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, err := create(t, env, ns, tc.manifest)
			wantInvalid(t, err, tc.want...)
		})
	}

	good := []struct {
		name     string
		manifest string
	}{
		{"backup, minimal", backupYAML("clusterName: nebula\ns3:\n  bucket: nebula-br-test")},
		{"backup with a bucket prefix and a MinIO endpoint", backupYAML("clusterName: nebula-2\ns3:\n  bucket: nebula-br-test/prod/daily\n  endpoint: http://minio.storage.svc:9000")},
		{"incremental backup", backupYAML("clusterName: nebula\nbaseBackupName: BACKUP_2023_02_12_10_04_16\n" + s3OK)},
		{"restore, br form", restoreYAML("br:\n  clusterName: nebula\n  backupName: BACKUP_2023_02_12_10_04_16\n" + indent(s3OK, 2))},
		{"restore, config form", restoreYAML("config:\n  clusterName: nebula\n  clusterNamespace: prod\n  backupName: BACKUP_2023_02_12_10_04_16\n  concurrency: 50\n" + indent(s3OK, 2))},
		{"cluster, minimal", clusterYAML(componentsOK)},
		{"backup to gs", backupYAML("clusterName: nebula\ngs:\n  location: us-central1\n  bucket: nebula-br-test\n  secretName: gcp-secret")},
		{"restore from gs", restoreYAML("config:\n  clusterName: nebula\n  backupName: BACKUP_2023_02_12_10_04_16\n  gs:\n    bucket: nebula-br-test")},
		{"cluster, older storaged dataVolumeClaim", clusterYAML(componentsOK + "\n  dataVolumeClaim:\n    resources:\n      requests:\n        storage: 1Gi")},
		{"cluster with graphd scaled to zero", clusterYAML("graphd:\n  image: g\n  replicas: 0\nmetad:\n  image: m\nstoraged:\n  image: s")},
	}
	for _, schedule := range []string{"*/5 * * * *", "0 2 * * *", "0 2 * * MON-FRI", "15,45 */2 1-15 JAN-JUN *",
		"CRON_TZ=Asia/Shanghai 0 2 * * *", "TZ=UTC 30 1 * * 0", "@hourly", "@daily", "@midnight", "@weekly", "@monthly",
		"@yearly", "@annually", "@every 1h", "@every 90m", "@every 1h30m"} {
		good = append(good, struct {
			name     string
			manifest string
		}{fmt.Sprintf("cron %q", schedule), cronYAML(fmt.Sprintf("schedule: %q\nmaxReservedTime: 1h30m\nmaxBackups: 3", schedule))})
	}
	for _, tc := range good {
		t.Run(tc.name, func(t *testing.T) {
			mustCreate(t, env, ns, tc.manifest)
		})
	}
}
