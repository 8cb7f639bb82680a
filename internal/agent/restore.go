package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/nebula-open/nebula-br/internal/agent/pb"
	"github.com/nebula-open/nebula-br/internal/objstore"
)

// The phases of a RestoreData job, as reported and journaled.
const (
	phaseDownload = "download"
	phasePlayback = "playback"
	phaseDone     = "done"
)

// cancelWait bounds how long RestoreDataStatus waits for a cancelled job
// to stop.
const cancelWait = 10 * time.Second

// restoreJournal is what a job keeps in its journal_path, rewritten
// (atomically) before each phase and at the end.
type restoreJournal struct {
	ID    string        `json:"id"`
	Phase string        `json:"phase"`
	Parts []journalPart `json:"parts,omitempty"`
	Time  time.Time     `json:"time"`
}

type journalPart struct {
	SpaceID      int32 `json:"space_id"`
	PartID       int32 `json:"part_id"`
	AppliedLogID int64 `json:"applied_log_id"`
}

// restoreJob is one RestoreData job: its state, and the progress of its
// downloads over the whole job.
type restoreJob struct {
	id      string
	journal string
	secrets []string // of every backend of the request, scrubbed from errors
	ctx     context.Context
	cancel  context.CancelFunc
	done    chan struct{} // closed once the job stopped

	skippedFiles, skippedBytes atomic.Int64

	mu          sync.Mutex
	state       pb.RestoreDataState
	phase       string
	errMsg      string
	errCode     codes.Code
	parts       []*pb.PartApplied
	canceled    bool // by RestoreDataStatus
	bytesTotal  int64
	filesTotal  int64
	prevFetched int64     // bytes fetched by the finished downloads
	prevFiles   int64     // files done (fetched or skipped) by the finished downloads
	cur         *transfer // the download under way
}

// status reports the job.
func (j *restoreJob) status() *pb.RestoreDataJob {
	j.mu.Lock()
	defer j.mu.Unlock()
	fetched, files := j.prevFetched, j.prevFiles
	if j.cur != nil {
		fetched += j.cur.bytesDone.Load()
		files += j.cur.filesDone.Load()
	}
	st := &pb.RestoreDataJob{
		Id:           j.id,
		State:        j.state,
		BytesDone:    fetched + j.skippedBytes.Load(),
		BytesTotal:   j.bytesTotal,
		FilesDone:    int32(files),
		FilesTotal:   int32(j.filesTotal),
		BytesFetched: fetched,
		FilesSkipped: int32(j.skippedFiles.Load()),
		Error:        j.errMsg,
		ErrorCode:    int32(j.errCode),
		Phase:        j.phase,
	}
	for _, p := range j.parts {
		st.Parts = append(st.Parts, &pb.PartApplied{SpaceId: p.SpaceId, PartId: p.PartId, AppliedLogId: p.AppliedLogId})
	}
	return st
}

func (j *restoreJob) running() bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.state == pb.RestoreDataState_RESTORE_DATA_RUNNING
}

func (j *restoreJob) setPhase(phase string) {
	j.mu.Lock()
	j.phase = phase
	j.mu.Unlock()
}

// writeJournal records the job's phase in its journal.
func (j *restoreJob) writeJournal(phase string, parts []*pb.PartApplied) error {
	rec := restoreJournal{ID: j.id, Phase: phase, Time: time.Now().UTC()}
	for _, p := range parts {
		rec.Parts = append(rec.Parts, journalPart{SpaceID: p.SpaceId, PartID: p.PartId, AppliedLogID: p.AppliedLogId})
	}
	b, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return status.Errorf(codes.Internal, "restore job journal %s: %v", j.journal, err)
	}
	if err := atomicWrite(j.journal, append(b, '\n')); err != nil {
		st := status.Convert(err)
		return status.Errorf(st.Code(), "restore job journal: %s", st.Message())
	}
	return nil
}

// readRestoreJournal reads a job journal: nil if there is none.
func readRestoreJournal(path string) (*restoreJournal, error) {
	b, _, exists, err := readFile(path)
	if err != nil || !exists {
		return nil, err
	}
	rec := &restoreJournal{}
	if err := json.Unmarshal(b, rec); err != nil {
		return nil, status.Errorf(codes.FailedPrecondition, "the restore job journal %s is unreadable (%v): remove it to start over", path, err)
	}
	switch rec.Phase {
	case phaseDownload, phasePlayback, phaseDone:
	default:
		return nil, status.Errorf(codes.FailedPrecondition, "the restore job journal %s (job %q) has an unknown phase %q: remove it to start over", path, rec.ID, rec.Phase)
	}
	return rec, nil
}

// checkRestoreRequest validates a RestoreData request before anything
// starts.
func checkRestoreRequest(req *pb.RestoreDataRequest) error {
	if req.Id == "" {
		return status.Error(codes.InvalidArgument, "id is not set")
	}
	if _, err := absPath("journal_path", req.JournalPath); err != nil {
		return err
	}
	if req.PlaybackDataPath != "" {
		if _, err := absPath("playback_data_path", req.PlaybackDataPath); err != nil {
			return err
		}
	}
	for i, d := range req.Downloads {
		if _, err := absPath(fmt.Sprintf("downloads[%d].target_path", i), d.TargetPath); err != nil {
			return err
		}
		if d.Backend == nil || d.Backend.Uri == "" {
			return status.Errorf(codes.InvalidArgument, "downloads[%d] (prefix %q): backend uri is not set", i, d.Prefix)
		}
		for _, f := range d.Files {
			if err := checkKey(f.Key); err != nil {
				return err
			}
		}
	}
	return nil
}

// RestoreData starts (or reports) a job that downloads req's files and
// plays the data back, in the background. See agent.proto.
func (s *Server) RestoreData(ctx context.Context, req *pb.RestoreDataRequest) (*pb.RestoreDataJob, error) {
	if err := checkRestoreRequest(req); err != nil {
		return nil, err
	}
	journal, _ := absPath("journal_path", req.JournalPath)

	s.jobsMu.Lock()
	defer s.jobsMu.Unlock()
	if s.jobCtx.Err() != nil {
		return nil, status.Errorf(codes.Unavailable, "agent %s is stopping", s.cfg.Addr)
	}
	if j := s.jobs[req.Id]; j != nil {
		if st := j.status(); st.State != pb.RestoreDataState_RESTORE_DATA_FAILED {
			return st, nil // running or done: nothing to start
		}
	}
	for _, o := range s.jobs {
		if o.id != req.Id && o.running() {
			st := o.status()
			return nil, status.Errorf(codes.FailedPrecondition, "agent %s runs restore job %q (phase %s, %d of %d bytes): wait for it or cancel it before starting %q",
				s.cfg.Addr, o.id, st.Phase, st.BytesDone, st.BytesTotal, req.Id)
		}
	}
	rec, err := readRestoreJournal(journal)
	if err != nil {
		return nil, err
	}
	redo := false
	if rec != nil {
		if rec.ID != req.Id {
			return nil, status.Errorf(codes.FailedPrecondition, "the restore job journal %s on %s belongs to job %q (phase %s, written %s), not %q: remove it first",
				journal, s.cfg.Addr, rec.ID, rec.Phase, rec.Time.Format(time.RFC3339), req.Id)
		}
		switch rec.Phase {
		case phaseDone:
			j := s.newRestoreJob(req, journal)
			j.cancel()
			close(j.done)
			j.state, j.phase = pb.RestoreDataState_RESTORE_DATA_DONE, phaseDone
			for _, p := range rec.Parts {
				j.parts = append(j.parts, &pb.PartApplied{SpaceId: p.SpaceID, PartId: p.PartID, AppliedLogId: p.AppliedLogID})
			}
			j.prevFiles = j.filesTotal
			j.skippedBytes.Store(j.bytesTotal) // in place, not fetched (nor checked) again
			s.jobs[req.Id] = j
			s.log.Info("restore job already done (journal)", "id", req.Id, "journal", journal, "finished", rec.Time)
			return j.status(), nil
		case phasePlayback:
			redo = true
		}
	}
	j := s.newRestoreJob(req, journal)
	s.jobs[req.Id] = j
	s.jobsWG.Add(1)
	go s.runRestoreJob(j, cloneRestoreRequest(req), rec != nil, redo)
	return j.status(), nil
}

// cloneRestoreRequest copies what the job keeps of the call's request.
func cloneRestoreRequest(req *pb.RestoreDataRequest) *pb.RestoreDataRequest {
	c := &pb.RestoreDataRequest{Id: req.Id, PlaybackDataPath: req.PlaybackDataPath, JournalPath: req.JournalPath}
	c.Downloads = append(c.Downloads, req.Downloads...)
	return c
}

// newRestoreJob makes a running job with the totals of its listed files.
func (s *Server) newRestoreJob(req *pb.RestoreDataRequest, journal string) *restoreJob {
	ctx, cancel := context.WithCancel(s.jobCtx)
	j := &restoreJob{
		id:      req.Id,
		journal: journal,
		ctx:     ctx,
		cancel:  cancel,
		done:    make(chan struct{}),
		state:   pb.RestoreDataState_RESTORE_DATA_RUNNING,
		phase:   phaseDownload,
	}
	for _, d := range req.Downloads {
		j.secrets = append(j.secrets, secrets(d.Backend)...)
		for _, f := range d.Files {
			j.bytesTotal += f.Size
		}
		j.filesTotal += int64(len(d.Files))
	}
	return j
}

// RestoreDataStatus reports a job (RESTORE_DATA_NONE if this agent has
// none of that id in memory), cancelling it first if asked.
func (s *Server) RestoreDataStatus(ctx context.Context, req *pb.RestoreDataStatusRequest) (*pb.RestoreDataJob, error) {
	if req.Id == "" {
		return nil, status.Error(codes.InvalidArgument, "id is not set")
	}
	s.jobsMu.Lock()
	j := s.jobs[req.Id]
	s.jobsMu.Unlock()
	if j == nil {
		return &pb.RestoreDataJob{Id: req.Id, State: pb.RestoreDataState_RESTORE_DATA_NONE}, nil
	}
	if req.Cancel && j.running() {
		j.mu.Lock()
		j.canceled = true
		j.mu.Unlock()
		j.cancel()
		select {
		case <-j.done:
			s.log.Info("restore job canceled", "id", j.id)
		case <-time.After(cancelWait):
			st := j.status()
			return nil, status.Errorf(codes.DeadlineExceeded, "restore job %q on %s did not stop within %s of its cancellation (phase %s): ask again",
				j.id, s.cfg.Addr, cancelWait, st.Phase)
		case <-ctx.Done():
			return nil, status.FromContextError(ctx.Err()).Err()
		}
	}
	return j.status(), nil
}

// stopJobs cancels the running jobs and waits for them, up to grace.
func (s *Server) stopJobs(grace time.Duration) {
	s.jobsMu.Lock()
	s.jobCancel()
	s.jobsMu.Unlock()
	done := make(chan struct{})
	go func() {
		s.jobsWG.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(grace):
		s.log.Warn("br-agent: restore jobs still running after the grace period", "grace", grace)
	}
}

// runRestoreJob runs a job to its end and records how it ended.
func (s *Server) runRestoreJob(j *restoreJob, req *pb.RestoreDataRequest, resume, redo bool) {
	defer s.jobsWG.Done()
	defer close(j.done)
	defer j.cancel()
	ctx := j.ctx

	start := time.Now()
	st := j.status()
	s.log.Info("restore job started", "id", j.id, "downloads", len(req.Downloads), "files", st.FilesTotal, "bytes", st.BytesTotal,
		"playback_data_path", req.PlaybackDataPath, "journal", j.journal, "resume", resume, "redo_after_interrupted_playback", redo)
	parts, err := s.restore(ctx, j, req, redo)

	j.mu.Lock()
	if err == nil {
		j.state, j.phase, j.parts = pb.RestoreDataState_RESTORE_DATA_DONE, phaseDone, parts
	} else {
		j.state = pb.RestoreDataState_RESTORE_DATA_FAILED
		switch {
		case j.canceled:
			j.errMsg, j.errCode = "canceled", codes.Canceled
		case s.jobCtx.Err() != nil:
			j.errMsg, j.errCode = "canceled: the agent is stopping", codes.Unavailable
		default:
			st := status.Convert(toStatus(err, j.secrets))
			j.errMsg, j.errCode = st.Message(), st.Code()
		}
	}
	j.mu.Unlock()

	st = j.status()
	attrs := []any{"id", j.id, "state", st.State.String(), "phase", st.Phase, "bytes_done", st.BytesDone, "bytes_total", st.BytesTotal,
		"bytes_fetched", st.BytesFetched, "files_done", st.FilesDone, "files_skipped", st.FilesSkipped, "elapsed", time.Since(start).Round(time.Millisecond)}
	if err != nil {
		s.log.Warn("restore job failed", append(attrs, "code", codes.Code(st.ErrorCode).String(), "err", st.Error)...)
		return
	}
	s.log.Info("restore job done", attrs...)
}

// restoreDownload is one DownloadFileRequest of a job, ready to run.
type restoreDownload struct {
	req       *pb.DownloadFileRequest
	target    string
	store     objstore.Store
	secrets   []string
	jobs      []job
	verifyCRC bool // the files are listed with their CRC-32C
}

// restore does a job's work: the downloads (after wiping their targets if
// a playback was interrupted), then the playback. The journal records each
// phase before it begins.
func (s *Server) restore(ctx context.Context, j *restoreJob, req *pb.RestoreDataRequest, redo bool) ([]*pb.PartApplied, error) {
	dls, err := s.prepareDownloads(ctx, j, req)
	if err != nil {
		return nil, err
	}
	if redo {
		// The data may have been changed by the playback: start over.
		for _, d := range dls {
			s.log.Info("restore job: a playback was interrupted: removing the downloaded data", "id", j.id, "path", d.target)
			if err := removeKeeping(d.target, j.journal); err != nil {
				return nil, status.Errorf(codeOf(err), "redo the interrupted playback: remove %s: %v", d.target, err)
			}
		}
	}
	if err := j.writeJournal(phaseDownload, nil); err != nil {
		return nil, err
	}
	for _, d := range dls {
		if err := s.runDownload(ctx, j, d); err != nil {
			return nil, err
		}
	}
	var parts []*pb.PartApplied
	if req.PlaybackDataPath != "" {
		j.setPhase(phasePlayback)
		if err := j.writeJournal(phasePlayback, nil); err != nil {
			return nil, err
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if parts, err = s.playBack(ctx, req.PlaybackRoot, req.PlaybackDataPath, req.PlaybackMetaAddr); err != nil {
			return nil, err
		}
		if err := ctx.Err(); err != nil {
			return nil, err // cancelled during the playback: the journal says to redo it
		}
	}
	if err := j.writeJournal(phaseDone, parts); err != nil {
		return nil, err
	}
	return parts, nil
}

// prepareDownloads opens every download's storage and lists the objects of
// those without a file list, completing the job's totals.
func (s *Server) prepareDownloads(ctx context.Context, j *restoreJob, req *pb.RestoreDataRequest) ([]*restoreDownload, error) {
	var out []*restoreDownload
	var listedBytes, listedFiles int64
	for _, d := range req.Downloads {
		target, err := absPath("target_path", d.TargetPath)
		if err != nil {
			return nil, err
		}
		store, sec, err := s.openBackend(ctx, d.Backend)
		if err != nil {
			return nil, err
		}
		rd := &restoreDownload{req: d, target: target, store: store, secrets: sec, verifyCRC: !d.NoChecksums}
		files := d.Files
		if len(files) == 0 {
			rd.verifyCRC = false
			if files, err = listUnder(ctx, store, d.Prefix); err != nil {
				return nil, toStatus(err, sec)
			}
			for _, f := range files {
				listedBytes += f.Size
			}
			listedFiles += int64(len(files))
		}
		for _, f := range files {
			rd.jobs = append(rd.jobs, job{key: f.Key, path: filepath.Join(target, filepath.FromSlash(f.Key)), size: f.Size, crc: f.Crc32C})
		}
		out = append(out, rd)
	}
	j.mu.Lock()
	j.bytesTotal += listedBytes
	j.filesTotal += listedFiles
	j.mu.Unlock()
	return out, nil
}

// runDownload fetches one download's files, skipping those already in
// place with the listed size and CRC-32C.
func (s *Server) runDownload(ctx context.Context, j *restoreJob, d *restoreDownload) error {
	if err := os.MkdirAll(d.target, 0o755); err != nil {
		return status.Errorf(codeOf(err), "target_path: %v", err)
	}
	removeStaleTemps(d.jobs)
	t := s.newTransfer(d.store, d.req.Prefix, d.secrets, d.req.Concurrency)
	j.mu.Lock()
	j.cur = t
	j.mu.Unlock()
	err := t.run(ctx, d.jobs, discardProgress{}, func(ctx context.Context, fj job) (*pb.FileSum, error) {
		if d.verifyCRC {
			ok, err := inPlace(ctx, fj)
			if err != nil {
				return nil, err
			}
			if ok {
				j.skippedFiles.Add(1)
				j.skippedBytes.Add(fj.size)
				return &pb.FileSum{Key: fj.key, Size: fj.size, Crc32C: fj.crc}, nil
			}
		}
		return t.get(ctx, fj, d.verifyCRC)
	})
	j.mu.Lock()
	j.prevFetched += t.bytesDone.Load()
	j.prevFiles += t.filesDone.Load()
	j.cur = nil
	j.mu.Unlock()
	return err
}

// discardProgress drops a transfer's progress: a job reports its own.
type discardProgress struct{}

func (discardProgress) Send(*pb.Progress) error { return nil }

// inPlace reports whether a download's file is already there with the
// expected size and CRC-32C.
func inPlace(ctx context.Context, j job) (bool, error) {
	f, err := os.Open(j.path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, &localError{fmt.Errorf("check %s: %w", j.path, err)}
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return false, &localError{fmt.Errorf("check %s: %w", j.path, err)}
	}
	if !st.Mode().IsRegular() || st.Size() != j.size {
		return false, nil
	}
	buf := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(buf)
	var crc uint32
	for {
		if err := ctx.Err(); err != nil {
			return false, err
		}
		n, err := f.Read(*buf)
		crc = crc32.Update(crc, castagnoli, (*buf)[:n])
		if err == io.EOF {
			break
		}
		if err != nil {
			return false, &localError{fmt.Errorf("check %s: %w", j.path, err)}
		}
	}
	return crc == j.crc, nil
}

// removeStaleTemps removes what downloads cut off by a crash left: the
// temporary files of the listed files (".<name>.download-*").
func removeStaleTemps(jobs []job) {
	names := map[string]map[string]bool{} // dir -> base names
	for _, j := range jobs {
		dir := filepath.Dir(j.path)
		if names[dir] == nil {
			names[dir] = map[string]bool{}
		}
		names[dir][filepath.Base(j.path)] = true
	}
	for dir, bases := range names {
		entries, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, e := range entries {
			n := e.Name()
			i := strings.LastIndex(n, ".download-")
			if !strings.HasPrefix(n, ".") || i < 1 || e.IsDir() || !bases[n[1:i]] {
				continue
			}
			os.Remove(filepath.Join(dir, n))
		}
	}
}

// removeKeeping removes dir and everything under it, except keep (and the
// directories leading to it) if it lies inside.
func removeKeeping(dir, keep string) error {
	rel, err := filepath.Rel(dir, keep)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return os.RemoveAll(dir) // keep is not under dir
	}
	if rel == "." {
		return nil
	}
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		if p == keep {
			continue
		}
		if e.IsDir() {
			if err := removeKeeping(p, keep); err != nil {
				return err
			}
			continue
		}
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}
