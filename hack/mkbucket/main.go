// Command mkbucket creates an S3 bucket (the demo's MinIO starts empty).
// Credentials come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY.
package main

import (
	"context"
	"fmt"
	"net/url"
	"os"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: mkbucket http://HOST:PORT BUCKET")
		os.Exit(2)
	}
	u, err := url.Parse(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	c, err := minio.New(u.Host, &minio.Options{Creds: credentials.NewEnvAWS(), Secure: u.Scheme == "https"})
	if err == nil {
		err = c.MakeBucket(context.Background(), os.Args[2], minio.MakeBucketOptions{})
	}
	if err != nil {
		if r := minio.ToErrorResponse(err); r.Code == "BucketAlreadyOwnedByYou" {
			return
		}
		fmt.Fprintln(os.Stderr, "mkbucket:", err)
		os.Exit(1)
	}
}
