package agent

import (
	"strings"

	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/nebula-open/nebula-br/internal/agent/pb"
	upb "github.com/nebula-open/nebula-br/internal/agent/upstreampb"
	"github.com/nebula-open/nebula-br/internal/objstore"
)

// Redacted replaces a secret in logs and errors.
const Redacted = "<redacted>"

// maxLoggedFiles is how many FileSums of a request a log line shows.
const maxLoggedFiles = 3

// secretFields are the fields that carry credentials, by message: ours,
// and nebula-agent's S3 and GS.
var secretFields = map[protoreflect.FullName][]protoreflect.Name{
	(&pb.Backend{}).ProtoReflect().Descriptor().FullName(): {"s3_access_key", "s3_secret_key", "gs_credentials"},
	(&upb.S3{}).ProtoReflect().Descriptor().FullName():     {"access_key", "secret_key"},
	(&upb.GS{}).ProtoReflect().Descriptor().FullName():     {"credentials"},
}

// RedactBackend returns a copy of b with the S3 keys and GCS credentials
// masked (nil for nil).
func RedactBackend(b *pb.Backend) *pb.Backend {
	if b == nil {
		return nil
	}
	c := proto.Clone(b).(*pb.Backend)
	if c.S3AccessKey != "" {
		c.S3AccessKey = Redacted
	}
	if c.S3SecretKey != "" {
		c.S3SecretKey = Redacted
	}
	if c.GsCredentials != "" {
		c.GsCredentials = Redacted
	}
	return c
}

// Redact returns a copy of m fit for a log: every Backend in it, at any
// depth, has its keys masked, and long file lists are cut to their first
// few entries.
func Redact(m proto.Message) proto.Message {
	if m == nil {
		return nil
	}
	c := proto.Clone(m)
	redactMsg(c.ProtoReflect())
	return c
}

func redactMsg(m protoreflect.Message) {
	if names, ok := secretFields[m.Descriptor().FullName()]; ok {
		for _, name := range names {
			fd := m.Descriptor().Fields().ByName(name)
			if fd != nil && m.Get(fd).String() != "" {
				m.Set(fd, protoreflect.ValueOfString(Redacted))
			}
		}
		return
	}
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.IsList() && fd.Message() != nil:
			l := v.List()
			if l.Len() > maxLoggedFiles {
				l.Truncate(maxLoggedFiles)
			}
			for i := 0; i < l.Len(); i++ {
				redactMsg(l.Get(i).Message())
			}
		case fd.IsMap():
			if fd.MapValue().Message() != nil {
				v.Map().Range(func(_ protoreflect.MapKey, mv protoreflect.Value) bool {
					redactMsg(mv.Message())
					return true
				})
			}
		case fd.Message() != nil:
			redactMsg(v.Message())
		}
		return true
	})
}

// logText renders a message for a log line, redacted, on one line.
func logText(m proto.Message) string {
	if m == nil {
		return ""
	}
	b, err := prototext.MarshalOptions{}.Marshal(Redact(m))
	if err != nil {
		return "<unprintable>"
	}
	// prototext may emit random spacing and newlines; make it one line.
	return strings.Join(strings.Fields(string(b)), " ")
}

// secrets lists the secret values a request carries, to scrub them from
// any text that leaves the agent (errors, logs).
func secrets(b *pb.Backend) []string {
	if b == nil {
		return nil
	}
	var out []string
	for _, s := range []string{b.S3AccessKey, b.S3SecretKey} {
		if s != "" {
			out = append(out, s)
		}
	}
	return append(out, GSSecrets(b.GsCredentials)...)
}

// GSSecrets lists what of a GCS credentials JSON must never be shown.
func GSSecrets(credentials string) []string { return objstore.GSSecrets(credentials) }

// scrub replaces every secret in text.
func scrub(text string, secrets []string) string {
	for _, s := range secrets {
		text = strings.ReplaceAll(text, s, Redacted)
	}
	return text
}
