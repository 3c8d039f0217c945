package minihdfs

import (
	"errors"
	"fmt"
)

// The Java exception classes the NameNode answers with. The client maps some of them to os
// errors and surfaces the others as errors carrying the class name (hdfs.Error.Exception).
const (
	StandbyException                 = "org.apache.hadoop.ipc.StandbyException"
	RetriableException               = "org.apache.hadoop.ipc.RetriableException"
	RpcNoSuchMethodException         = "org.apache.hadoop.ipc.RpcNoSuchMethodException"
	RpcNoSuchProtocolException       = "org.apache.hadoop.ipc.RpcNoSuchProtocolException"
	RpcServerException               = "org.apache.hadoop.ipc.RpcServerException"
	FileNotFoundException            = "java.io.FileNotFoundException"
	IOException                      = "java.io.IOException"
	FileAlreadyExistsException       = "org.apache.hadoop.fs.FileAlreadyExistsException"
	ParentNotDirectoryException      = "org.apache.hadoop.fs.ParentNotDirectoryException"
	PathIsNotEmptyDirectoryException = "org.apache.hadoop.fs.PathIsNotEmptyDirectoryException"
	InvalidPathException             = "org.apache.hadoop.fs.InvalidPathException"
	AccessControlException           = "org.apache.hadoop.security.AccessControlException"
	AlreadyBeingCreatedException     = "org.apache.hadoop.hdfs.protocol.AlreadyBeingCreatedException"
	RecoveryInProgressException      = "org.apache.hadoop.hdfs.protocol.RecoveryInProgressException"
	DSQuotaExceededException         = "org.apache.hadoop.hdfs.protocol.DSQuotaExceededException"
	LeaseExpiredException            = "org.apache.hadoop.hdfs.server.namenode.LeaseExpiredException"
	NotReplicatedYetException        = "org.apache.hadoop.hdfs.server.namenode.NotReplicatedYetException"
	PathComponentTooLongException    = "org.apache.hadoop.hdfs.protocol.FSLimitException$PathComponentTooLongException"
)

// Errors of the cluster's own API.
var (
	// ErrNotFound: the path named in a check does not exist.
	ErrNotFound = errors.New("no such file or directory")
	// ErrNameNodeStopped: the call needs the NameNode and it is stopped.
	ErrNameNodeStopped = errors.New("namenode is stopped")
	// ErrClosed: the cluster was closed.
	ErrClosed = errors.New("cluster is closed")
)

// remoteError is an error a NameNode call answers with: the Java class name travels in the
// RPC response header, the message as errorMsg.
type remoteError struct {
	class  string
	msg    string
	detail string // RpcErrorCodeProto name; empty means ERROR_APPLICATION
}

func (e *remoteError) Error() string { return e.class + ": " + e.msg }

// rerr builds a remoteError of class with a formatted message.
func rerr(class, format string, args ...any) *remoteError {
	return &remoteError{class: class, msg: fmt.Sprintf(format, args...)}
}

func notFound(format string, args ...any) *remoteError {
	return rerr(FileNotFoundException, format, args...)
}

func ioErr(format string, args ...any) *remoteError { return rerr(IOException, format, args...) }
