package objstore

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/minio/minio-go/v7"
)

// Objects larger than one part go up as multipart uploads driven here
// through minio-go's Core API (its PutObject cannot resume): parts are read
// from the source in order and sent by up to s3PutThreads goroutines.
//
// Resume: an upload of known size is cut at offsets that depend on the size
// alone (partSizeFor). Before it starts, the newest incomplete upload of the
// same key is looked up; a part of it whose size and ETag (the MD5 of its
// bytes) match the part just read from the source is kept instead of sent
// again. So a rerun of a failed Put of a file sends only the parts that are
// missing or whose bytes changed, and the object is always the source's
// bytes: a kept part is one whose content was compared. When ETags are not
// MD5s (SSE-KMS or SSE-C, set by bucket policy: this backend sets no
// encryption itself), nothing matches and every part is sent again, which
// is slower but just as correct.
//
// A failed upload of known size is left in place for that rerun, unless
// the caller cancelled (it is not coming back); DeleteDir (br cleanup)
// removes leftovers. An upload of unknown size (a stream, which a rerun
// cannot reproduce) is never resumed and is aborted when it fails.

const (
	// s3MaxObjectSize is S3's limit on one object.
	s3MaxObjectSize = 5 << 40
	// s3MinPartSize: S3 refuses smaller parts, except the last.
	s3MinPartSize = 5 << 20
)

// s3MaxParts is S3's limit on the parts of one upload; a variable so that
// tests can reach it with few bytes.
var s3MaxParts = 10000

// partSizeFor is the part size of an upload of size bytes: s3PartSize, or,
// beyond s3MaxParts of those (156.25 GiB), the smallest multiple of
// s3PartSize that fits the object in s3MaxParts parts. A function of the
// size alone, so that a rerun cuts a file at the same offsets.
func partSizeFor(size int64) int64 {
	fit := (size + int64(s3MaxParts) - 1) / int64(s3MaxParts)
	return max(s3PartSize, (fit+s3PartSize-1)/s3PartSize*s3PartSize)
}

// streamPartSize is the size of part n (from 1) of an upload of unknown
// size: s3PartSize, doubled after every fifth of s3MaxParts (16, 32, 64,
// 128, 256 MiB), so that a small stream keeps small buffers and a large
// one still fits (streamMaxSize).
func streamPartSize(n int) int64 {
	return s3PartSize << ((n - 1) * 5 / s3MaxParts)
}

// streamMaxSize is the most an upload of unknown size can hold: 968.75 GiB
// with 16 MiB parts. Larger objects need their size given.
func streamMaxSize() int64 {
	var total int64
	for n := 1; n <= s3MaxParts; n++ {
		total += streamPartSize(n)
	}
	return total
}

// putMultipart uploads body as a multipart upload (size -1: unknown); src
// is the Put's source, which body reads.
func (s *s3Store) putMultipart(ctx context.Context, key string, body io.Reader, size int64, src *sourceReader) error {
	fail := func(err error) error { return s.fail(ctx, "put", key, src, err) }
	if size > s3MaxObjectSize {
		return newError(fmt.Sprintf("put %q: %s is more than S3's largest object (5 TiB)", key, humanize.IBytes(uint64(size))))
	}
	core := minio.Core{Client: s.client}
	object := s.prefix + key

	nparts, partSize := s3MaxParts, streamPartSize
	var id string
	var have map[int]minio.ObjectPart
	if size >= 0 {
		ps := partSizeFor(size)
		nparts = int((size + ps - 1) / ps)
		partSize = func(n int) int64 { return min(ps, size-int64(n-1)*ps) }
		id, have = s.findUpload(ctx, core, object)
	}
	if id == "" {
		var err error
		if id, err = core.NewMultipartUpload(ctx, s.bucket, object, minio.PutObjectOptions{ContentType: "application/octet-stream"}); err != nil {
			return fail(err)
		}
	}

	parts := make([]minio.CompletePart, 0, nparts)
	var (
		mu      sync.Mutex
		sendErr error
		wg      sync.WaitGroup
	)
	// free holds this upload's turns: taking one is the right to read and
	// send a part, so at most s3PutThreads of its parts are in flight.
	free := make(chan struct{}, s3PutThreads)
	for range s3PutThreads {
		free <- struct{}{}
	}
	release := func(buf []byte) {
		partBuffers.put(buf)
		free <- struct{}{}
	}
	var kept, keptBytes int64
	var readErr, tooLong error
	ended := false // the source ended (unknown size)
	for n := 1; n <= nparts && readErr == nil && !ended; n++ {
		<-free
		mu.Lock()
		failed := sendErr != nil
		mu.Unlock()
		if failed {
			free <- struct{}{}
			break
		}
		buf := partBuffers.get(partSize(n))
		got, err := io.ReadFull(body, buf)
		switch {
		case size < 0 && errors.Is(err, io.EOF): // ended on a part boundary
			release(buf)
			ended = true
			continue
		case size < 0 && errors.Is(err, io.ErrUnexpectedEOF):
			buf, ended = buf[:got], true
		case err != nil:
			release(buf)
			readErr = err
			continue
		}
		sum := md5.Sum(buf)
		if p, ok := have[n]; ok && p.Size == int64(len(buf)) && strings.Trim(p.ETag, `"`) == hex.EncodeToString(sum[:]) {
			mu.Lock()
			parts = append(parts, minio.CompletePart{PartNumber: n, ETag: p.ETag})
			mu.Unlock()
			kept++
			keptBytes += int64(len(buf))
			release(buf)
			continue
		}
		wg.Add(1)
		go func(n int, buf []byte) {
			defer wg.Done()
			defer release(buf)
			p, err := core.PutObjectPart(ctx, s.bucket, object, id, n, bytes.NewReader(buf), int64(len(buf)),
				// Content-MD5 has the server check the part's bytes; a
				// SHA-256 of them too (the signature over plain HTTP)
				// would hash every byte a third time for nothing more.
				minio.PutObjectPartOptions{Md5Base64: base64.StdEncoding.EncodeToString(sum[:]), DisableContentSha256: true})
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				sendErr = firstErr(sendErr, err)
				return
			}
			parts = append(parts, minio.CompletePart{PartNumber: n, ETag: p.ETag})
		}(n, buf)
	}
	// Parts in flight are let finish even after a failure: each one sent
	// is one a rerun need not send.
	wg.Wait()
	if readErr == nil && sendErr == nil && !ended {
		// Every part is read: the source must have nothing more (a
		// sourceReader of known size reports an overlong source here).
		var probe [1]byte
		switch n, err := io.ReadFull(body, probe[:]); {
		case n > 0 && size < 0:
			tooLong = newError(fmt.Sprintf("put %q: the stream is longer than the %s an upload of unknown size can hold (%d parts): give its size",
				key, humanize.IBytes(uint64(streamMaxSize())), s3MaxParts))
		case n > 0:
			readErr = errSourceTooLong
		case !errors.Is(err, io.EOF):
			readErr = err
		}
	}
	if err := firstErr(readErr, sendErr, tooLong); err != nil {
		if size < 0 || ctx.Err() != nil {
			s.abort(ctx, object, id)
		}
		if err == tooLong {
			return err
		}
		return fail(err)
	}
	if kept > 0 {
		s.log.Info("S3 upload resumed", "key", key, "parts_kept", kept, "parts", len(parts),
			"bytes_kept", keptBytes, "bytes_sent", size-keptBytes)
	}
	slices.SortFunc(parts, func(a, b minio.CompletePart) int { return a.PartNumber - b.PartNumber })
	if _, err := core.CompleteMultipartUpload(ctx, s.bucket, object, id, parts, minio.PutObjectOptions{}); err != nil {
		return fail(err)
	}
	return nil
}

// partBuffers holds the part buffers of every multipart upload in the
// process: taking one is the right to hold a part in memory. br-agent
// uploads several files side by side, each with up to s3PutThreads parts
// in flight; the pool bounds its memory whatever their number.
var partBuffers = newBufferPool(s3BufferedParts)

type bufferPool struct{ bufs chan []byte }

func newBufferPool(n int) *bufferPool {
	p := &bufferPool{bufs: make(chan []byte, n)}
	for range n {
		p.bufs <- nil
	}
	return p
}

// get waits for a buffer and returns it with length size.
func (p *bufferPool) get(size int64) []byte {
	buf := <-p.bufs
	if int64(cap(buf)) < size {
		return make([]byte, size)
	}
	return buf[:size]
}

func (p *bufferPool) put(buf []byte) { p.bufs <- buf }

// firstErr returns the first non-nil error.
func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// findUpload returns the newest incomplete upload of object and its parts
// by number, or "" if there is none. Resume is only a saving: if the
// uploads cannot be listed, the Put starts a new one.
func (s *s3Store) findUpload(ctx context.Context, core minio.Core, object string) (string, map[int]minio.ObjectPart) {
	var id string
	var newest time.Time
	keyMarker, idMarker := "", ""
	for {
		res, err := core.ListMultipartUploads(ctx, s.bucket, object, keyMarker, idMarker, "", 1000)
		if err != nil {
			s.log.Debug("S3 upload: cannot list incomplete uploads, starting a new one", "key", object, "err", s.secrets.redact(err.Error()))
			return "", nil
		}
		for _, u := range res.Uploads {
			if u.Key == object && (id == "" || u.Initiated.After(newest)) {
				id, newest = u.UploadID, u.Initiated
			}
		}
		if !res.IsTruncated {
			break
		}
		keyMarker, idMarker = res.NextKeyMarker, res.NextUploadIDMarker
	}
	if id == "" {
		return "", nil
	}
	have := map[int]minio.ObjectPart{}
	marker := 0
	for {
		res, err := core.ListObjectParts(ctx, s.bucket, object, id, marker, 1000)
		if err != nil {
			s.log.Debug("S3 upload: cannot list the parts of an incomplete upload, starting a new one", "key", object, "err", s.secrets.redact(err.Error()))
			return "", nil
		}
		for _, p := range res.ObjectParts {
			have[p.PartNumber] = p
		}
		if !res.IsTruncated {
			break
		}
		marker = res.NextPartNumberMarker
	}
	return id, have
}

// abort drops an upload that will not be resumed, even once ctx is done.
func (s *s3Store) abort(ctx context.Context, object, id string) {
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	if err := (minio.Core{Client: s.client}).AbortMultipartUpload(actx, s.bucket, object, id); err != nil {
		s.log.Warn("S3 upload: cannot abort a failed upload (br cleanup removes it)", "key", object, "err", s.secrets.redact(err.Error()))
	}
}
