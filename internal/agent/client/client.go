// Package client is the br-agent client: a gRPC connection to one agent
// with typed helpers for the streaming transfers and the generated clients
// for everything else. Every error names the agent's address and keeps the
// gRPC status code (status.Code(err) works on it).
package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/nebula-open/nebula-br/internal/hostmap"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/nebula-open/nebula-br/internal/agent/pb"
	upb "github.com/nebula-open/nebula-br/internal/agent/upstreampb"
)

// DefaultDialTimeout bounds Dial when ctx has no deadline.
const DefaultDialTimeout = 10 * time.Second

// maxMsgSize matches the agent's limit (large file lists).
const maxMsgSize = 256 << 20

// Client is a connection to one agent; safe for concurrent use.
type Client struct {
	addr string
	conn *grpc.ClientConn
	// Agent and Storage are the generated clients, for the calls without a
	// helper here. Their errors are plain status errors; wrap them with
	// (*Client).Err to name the agent.
	Agent   pb.AgentServiceClient
	Storage pb.StorageServiceClient

	// up is set when the agent offers only nebula-agent's API (upstream.go).
	up *upstreamAPI
}

// Error is a failed call to an agent.
type Error struct {
	Addr   string // the agent
	Method string
	Code   codes.Code
	Msg    string // the agent's message (or the local cause)
	Err    error  // the underlying error
}

func (e *Error) Error() string {
	return fmt.Sprintf("agent %s: %s: %s: %s", e.Addr, e.Method, e.Code, e.Msg)
}

// GRPCStatus keeps the code for status.Code and status.FromError.
func (e *Error) GRPCStatus() *status.Status { return status.New(e.Code, e.Error()) }

func (e *Error) Unwrap() error { return e.Err }

// Dial connects to the agent at addr (insecure gRPC: agents are reached on
// loopback or inside the cluster) and waits until the connection is up.
func Dial(ctx context.Context, addr string) (*Client, error) {
	conn, err := grpc.NewClient(hostmap.Dial(addr),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxMsgSize), grpc.MaxCallSendMsgSize(maxMsgSize)),
	)
	if err != nil {
		return nil, &Error{Addr: addr, Method: "Dial", Code: codes.InvalidArgument, Msg: err.Error(), Err: err}
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultDialTimeout)
		defer cancel()
	}
	conn.Connect()
	for {
		s := conn.GetState()
		if s == connectivity.Ready {
			break
		}
		if !conn.WaitForStateChange(ctx, s) {
			conn.Close()
			msg := fmt.Sprintf("cannot connect (is br-agent running there?): %v", ctx.Err())
			return nil, &Error{Addr: addr, Method: "Dial", Code: codes.Unavailable, Msg: msg, Err: ctx.Err()}
		}
	}
	c := &Client{
		addr:    addr,
		conn:    conn,
		Agent:   pb.NewAgentServiceClient(conn),
		Storage: pb.NewStorageServiceClient(conn),
	}
	// Which API the agent offers, asked once: ours answers HealthCheck,
	// nebula-agent's does not know our service.
	if _, err := c.Agent.HealthCheck(ctx, &pb.Empty{}); status.Code(err) == codes.Unimplemented {
		up := &upstreamAPI{agent: upb.NewAgentServiceClient(conn), storage: upb.NewStorageServiceClient(conn), jobs: map[string]*upstreamJob{}}
		if _, uerr := up.agent.HealthCheck(ctx, &upb.HealthCheckRequest{}); uerr != nil {
			conn.Close()
			return nil, c.Err("HealthCheck", fmt.Errorf("neither br-agent's API (%v) nor nebula-agent's (%w) answers", err, uerr))
		}
		c.up = up
	} else if err != nil {
		conn.Close()
		return nil, c.Err("HealthCheck", err)
	}
	return c, nil
}

// Addr is the agent's address.
func (c *Client) Addr() string { return c.addr }

// Close closes the connection.
func (c *Client) Close() error { return c.conn.Close() }

// Err wraps an error of a call to this agent as an *Error (nil stays nil).
func (c *Client) Err(method string, err error) error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	st := status.Convert(err)
	code, msg := st.Code(), st.Message()
	if _, ok := status.FromError(err); !ok {
		switch {
		case errors.Is(err, context.Canceled):
			code = codes.Canceled
		case errors.Is(err, context.DeadlineExceeded):
			code = codes.DeadlineExceeded
		}
	}
	return &Error{Addr: c.addr, Method: method, Code: code, Msg: msg, Err: err}
}

// progressStream is what the three transfer calls return.
type progressStream interface {
	Recv() (*pb.Progress, error)
}

// follow reads a transfer's progress until its final message.
func (c *Client) follow(method string, stream progressStream, onProgress func(*pb.Progress)) ([]*pb.FileSum, error) {
	for {
		p, err := stream.Recv()
		if err == io.EOF {
			return nil, &Error{Addr: c.addr, Method: method, Code: codes.Internal, Msg: "the transfer ended without reporting completion"}
		}
		if err != nil {
			return nil, c.Err(method, err)
		}
		if onProgress != nil {
			onProgress(p)
		}
		if p.Done {
			// Drain so the stream's resources are released.
			for {
				if _, err := stream.Recv(); err != nil {
					break
				}
			}
			return p.Files, nil
		}
	}
}

// Upload runs UploadFile and returns every uploaded object with its size
// and CRC-32C (keys relative to req.Prefix). onProgress may be nil.
func (c *Client) Upload(ctx context.Context, req *pb.UploadFileRequest, onProgress func(*pb.Progress)) ([]*pb.FileSum, error) {
	if c.up != nil {
		return c.upstreamUpload(ctx, req, onProgress)
	}
	stream, err := c.Storage.UploadFile(ctx, req)
	if err != nil {
		return nil, c.Err("UploadFile", err)
	}
	return c.follow("UploadFile", stream, onProgress)
}

// IncrUpload runs IncrUploadFile: the WAL files covering
// (req.AfterLogId, req.UpToLogId].
func (c *Client) IncrUpload(ctx context.Context, req *pb.IncrUploadFileRequest, onProgress func(*pb.Progress)) ([]*pb.FileSum, error) {
	if c.up != nil {
		return c.upstreamIncrUpload(ctx, req, onProgress)
	}
	stream, err := c.Storage.IncrUploadFile(ctx, req)
	if err != nil {
		return nil, c.Err("IncrUploadFile", err)
	}
	return c.follow("IncrUploadFile", stream, onProgress)
}

// Download runs DownloadFile; the agent verifies every file's size and
// CRC-32C (codes.DataLoss on a mismatch, codes.NotFound for a missing
// object).
func (c *Client) Download(ctx context.Context, req *pb.DownloadFileRequest, onProgress func(*pb.Progress)) error {
	if c.up != nil {
		return c.upstreamDownload(ctx, req)
	}
	stream, err := c.Storage.DownloadFile(ctx, req)
	if err != nil {
		return c.Err("DownloadFile", err)
	}
	_, err = c.follow("DownloadFile", stream, onProgress)
	return err
}

// HealthCheck asks the agent whether it serves.
func (c *Client) HealthCheck(ctx context.Context) (*pb.HealthCheckResponse, error) {
	if c.up != nil {
		resp, err := c.up.agent.HealthCheck(ctx, &upb.HealthCheckRequest{})
		if err != nil {
			return nil, c.Err("HealthCheck", err)
		}
		return &pb.HealthCheckResponse{Status: resp.Status, Engine: "nebula-agent"}, nil
	}
	resp, err := c.Agent.HealthCheck(ctx, &pb.Empty{})
	return resp, c.Err("HealthCheck", err)
}

// MoveDir renames src to dst on the agent's host (dst must not exist).
func (c *Client) MoveDir(ctx context.Context, src, dst string) error {
	if c.up != nil {
		_, err := c.up.storage.MoveDir(ctx, &upb.MoveDirRequest{SrcPath: src, DstPath: dst})
		return c.Err("MoveDir", err)
	}
	_, err := c.Storage.MoveDir(ctx, &pb.MoveDirRequest{Src: src, Dst: dst})
	return c.Err("MoveDir", err)
}

// RemoveDir removes a path recursively on the agent's host.
func (c *Client) RemoveDir(ctx context.Context, path string) error {
	if c.up != nil {
		_, err := c.up.storage.RemoveDir(ctx, &upb.RemoveDirRequest{Path: path})
		return c.Err("RemoveDir", err)
	}
	_, err := c.Storage.RemoveDir(ctx, &pb.RemoveDirRequest{Path: path})
	return c.Err("RemoveDir", err)
}

// ExistDir reports whether a path exists on the agent's host.
func (c *Client) ExistDir(ctx context.Context, path string) (bool, error) {
	if c.up != nil {
		resp, err := c.up.storage.ExistDir(ctx, &upb.ExistDirRequest{Path: path})
		if err != nil {
			return false, c.Err("ExistDir", err)
		}
		return resp.Exist, nil
	}
	resp, err := c.Storage.ExistDir(ctx, &pb.ExistDirRequest{Path: path})
	if err != nil {
		return false, c.Err("ExistDir", err)
	}
	return resp.Exists, nil
}

// StartService starts a role on the agent's host (root "": the install
// root metad reported for it).
func (c *Client) StartService(ctx context.Context, role pb.ServiceRole, root string) error {
	if c.up != nil {
		_, err := c.up.agent.StartService(ctx, &upb.StartServiceRequest{Role: upb.ServiceRole(role), Dir: root})
		return c.Err("StartService", err)
	}
	_, err := c.Agent.StartService(ctx, &pb.ServiceRequest{Role: role, Root: root})
	return c.Err("StartService", err)
}

// StopService stops a role on the agent's host.
func (c *Client) StopService(ctx context.Context, role pb.ServiceRole, root string) error {
	if c.up != nil {
		_, err := c.up.agent.StopService(ctx, &upb.StopServiceRequest{Role: upb.ServiceRole(role), Dir: root})
		return c.Err("StopService", err)
	}
	_, err := c.Agent.StopService(ctx, &pb.ServiceRequest{Role: role, Root: root})
	return c.Err("StopService", err)
}

// ServiceStatus reports whether a role runs on the agent's host, and its pid.
func (c *Client) ServiceStatus(ctx context.Context, role pb.ServiceRole, root string) (*pb.ServiceStatusResponse, error) {
	if c.up != nil {
		resp, err := c.up.agent.ServiceStatus(ctx, &upb.ServiceStatusRequest{Role: upb.ServiceRole(role), Dir: root})
		if err != nil {
			return nil, c.Err("ServiceStatus", err)
		}
		if resp.Status == upb.Status_UNKNOWN_STATUS {
			return nil, c.Err("ServiceStatus", status.Errorf(codes.Internal, "the agent cannot tell whether %v runs under %s", role, root))
		}
		return &pb.ServiceStatusResponse{Running: resp.Status == upb.Status_RUNNING}, nil
	}
	resp, err := c.Agent.ServiceStatus(ctx, &pb.ServiceRequest{Role: role, Root: root})
	if err != nil {
		return nil, c.Err("ServiceStatus", err)
	}
	return resp, nil
}

// DataPlayBack replays the WAL of every part under dataPath and returns the
// applied log ids (none from nebula-agent). root is the install root (""
// for br-agent: the one metad reported), metaAddr metad's address.
func (c *Client) DataPlayBack(ctx context.Context, root, dataPath, metaAddr string) ([]*pb.PartApplied, error) {
	if c.up != nil {
		_, err := c.up.agent.DataPlayBack(ctx, &upb.DataPlayBackRequest{Dir: root, DataPath: dataPath, MetaAddr: metaAddr})
		return nil, c.Err("DataPlayBack", err)
	}
	resp, err := c.Agent.DataPlayBack(ctx, &pb.DataPlayBackRequest{DataPath: dataPath, Root: root, MetaAddr: metaAddr})
	if err != nil {
		return nil, c.Err("DataPlayBack", err)
	}
	return resp.Parts, nil
}

// StopAgent asks the agent to stop (it replies first).
func (c *Client) StopAgent(ctx context.Context) error {
	if c.up != nil {
		_, err := c.up.agent.StopAgent(ctx, &upb.StopAgentRequest{})
		return c.Err("StopAgent", err)
	}
	_, err := c.Agent.StopAgent(ctx, &pb.Empty{})
	return c.Err("StopAgent", err)
}

// ReadFile reads a file on the agent's host: its content, whether it
// exists (a missing file is not an error) and how long ago it was last
// written, by the agent's clock.
func (c *Client) ReadFile(ctx context.Context, path string) (content []byte, exists bool, age time.Duration, err error) {
	if c.up != nil {
		return nil, false, 0, c.unsupported("ReadFile")
	}
	resp, err := c.Storage.ReadFile(ctx, &pb.ReadFileRequest{Path: path})
	if err != nil {
		return nil, false, 0, c.Err("ReadFile", err)
	}
	return resp.Content, resp.Exists, time.Duration(resp.AgeMs) * time.Millisecond, nil
}

// CAS is what WriteFile expects to find before it writes: no file (Exists
// false), or one whose content has CRC-32C (Castagnoli) CRC32C.
type CAS struct {
	Exists bool
	CRC32C uint32
}

// WriteFile replaces a file on the agent's host atomically. With a CAS it
// writes only if the file is as expected, else codes.FailedPrecondition;
// the agent serialises these writes, so of several racing to create a
// file (CAS{Exists: false}) exactly one succeeds. cas nil: unconditional.
func (c *Client) WriteFile(ctx context.Context, path string, content []byte, cas *CAS) error {
	if c.up != nil {
		return c.unsupported("WriteFile")
	}
	req := &pb.WriteFileRequest{Path: path, Content: content}
	if cas != nil {
		req.Check, req.ExpectExists, req.ExpectCrc32C = true, cas.Exists, cas.CRC32C
	}
	_, err := c.Storage.WriteFile(ctx, req)
	return c.Err("WriteFile", err)
}

// StatDisk reports the free and total bytes of the file system holding
// path (or its nearest existing parent) on the agent's host.
func (c *Client) StatDisk(ctx context.Context, path string) (free, total int64, err error) {
	if c.up != nil {
		return 0, 0, c.unsupported("StatDisk")
	}
	resp, err := c.Storage.StatDisk(ctx, &pb.StatDiskRequest{Path: path})
	if err != nil {
		return 0, 0, c.Err("StatDisk", err)
	}
	return resp.FreeBytes, resp.TotalBytes, nil
}

// RestoreData starts req's job on the agent, or reports it if one of that
// id runs or is done there (a failed one is restarted). It returns at
// once; follow the job with RestoreDataStatus.
func (c *Client) RestoreData(ctx context.Context, req *pb.RestoreDataRequest) (*pb.RestoreDataJob, error) {
	if c.up != nil {
		return c.upstreamRestoreData(req), nil
	}
	resp, err := c.Agent.RestoreData(ctx, req)
	if err != nil {
		return nil, c.Err("RestoreData", err)
	}
	return resp, nil
}

// RestoreDataStatus reports the job id (state RESTORE_DATA_NONE if the
// agent has none such in memory); with cancel it first stops the job if it
// runs (it is then FAILED with error "canceled").
func (c *Client) RestoreDataStatus(ctx context.Context, id string, cancel bool) (*pb.RestoreDataJob, error) {
	if c.up != nil {
		return c.upstreamRestoreDataStatus(id, cancel), nil
	}
	resp, err := c.Agent.RestoreDataStatus(ctx, &pb.RestoreDataStatusRequest{Id: id, Cancel: cancel})
	if err != nil {
		return nil, c.Err("RestoreDataStatus", err)
	}
	return resp, nil
}
