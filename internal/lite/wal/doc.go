// Package wal implements the per-partition write-ahead log of nebula-lite's
// storaged.
//
// Every write of storaged goes to the WAL first ([WAL.Append]) and then to the
// key-value store. The store persists, together with the data, the last log id
// it applied; on start storaged replays the entries past it ([WAL.Iterate]).
// Backups hard-link the WAL files into a checkpoint directory
// ([WAL.LinkInto]), incremental backups upload the files that cover a log-id
// range ([Covering]) and restore plays downloaded files back ([ReadDir]).
//
// # Layout
//
// A WAL owns one directory (one per partition, ".../wal/<partId>/") holding
// segment files named after the first log id they contain,
// fmt.Sprintf("%019d.wal", firstLogID), the scheme NebulaGraph uses. Files are
// ordered by that id. Inside a file the ids are consecutive and the first one
// equals the name. From one file to the next, ids strictly increase; they are
// consecutive too, except after [WAL.SetNext] skipped ahead, which always
// starts a new file.
//
// Only the newest file of an open WAL is appended to, and only by the WAL
// that created it. A file is sealed when it reaches [Options.FileSize], by
// [WAL.Rotate], [WAL.LinkInto] and [WAL.Close], and every file found by [Open]
// counts as sealed: the first Append after Open starts a new file. A sealed
// file is never written again, so a hard link to it (a checkpoint) stays
// valid. The only in-place change ever made to an existing file is [Open]
// truncating a torn tail, which holds bytes no Append ever acknowledged.
//
// A new file is written under a temporary name ("<name>.tmp") and renamed once
// its first batch is in it, so a file never exists without at least one
// complete record; leftover temporary files are removed by [Open].
//
// # Record format
//
// A file is a sequence of records with no file header, footer or padding.
// All integers are little-endian. Each record is a fixed 24-byte header
// followed by the payload:
//
//	offset  size  field
//	     0     4  payload length n (uint32, at most MaxPayloadSize)
//	     4     4  CRC-32C (Castagnoli) over bytes 8 .. 24+n: log id, term, payload
//	     8     8  log id (uint64, never 0)
//	    16     8  term (uint64)
//	    24     n  payload
//
// # Durability and recovery
//
// Append encodes its entries into one buffer and hands it to the operating
// system with a single write(2) before returning, so acknowledged entries
// survive the process being killed (kill -9). With [Options.Sync] the file is
// also fsynced, so they survive a power failure. Independently of Sync, a file
// is fsynced when it is sealed and by Close, so only the newest file can lose
// data in a power failure.
//
// [Open] reads and validates every file (checksums, ids, ordering), so its
// cost grows with the amount of log kept; after that, LastLogID, FirstLogID
// and Files are answered from an in-memory index. In the newest file
// a torn tail is truncated away: an incomplete last record (header or payload
// cut short), or a last record whose checksum does not match (including a
// damaged record followed only by zero bytes, which is what a file system may
// leave after a power failure). Damage anywhere else, or a checksum mismatch
// followed by further data, is reported as a *[CorruptError] naming the file
// and offset; nothing is ever skipped silently.
//
// Reading a plain directory ([ListFiles], [ReadDir], [Covering]) is strict in
// the same way, except that an incomplete record at the very end of the
// newest file is ignored rather than reported: the directory may be the live
// directory of a running WAL, whose newest file can end with a record that is
// being written. It is never modified.
//
// Log ids are never reused: Append only accepts ids past the last one on disk,
// and the newest file is never deleted by [WAL.CleanTTL], so the last id
// survives restarts. After a restore, [WAL.SetNext] moves the next id past the
// store's applied id.
//
// # Concurrency
//
// A WAL has one writer at a time (Append, AppendBatch, Rotate, SetNext,
// CleanTTL, LinkInto, Close are serialized by a mutex), while LastLogID,
// FirstLogID, Files, Covering and Iterate may be called concurrently with
// them. Readers never wait for disk I/O of a writer: the writer publishes the
// new file sizes and ids under a short-held lock after each write. Iterate
// takes a snapshot of the files under that lock (opening them, so CleanTTL
// cannot pull them away) and reads them without holding it; it sees the
// entries appended before it started.
//
// The directory is locked with flock(2) while a WAL is open (where
// available), so two WALs cannot write the same directory.
package wal
