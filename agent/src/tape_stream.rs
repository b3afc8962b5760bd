//! Byte streams over tape blocks: the image writers and readers speak `Write`/`Read`, a tape
//! speaks blocks. The writer cuts the stream into fixed-size records (one tape block each); the
//! reader hands back the blocks of one tape file as a stream, ending at its filemark.

use std::io::{self, Read, Write};

use asto_drivers::tape::{ReadOutcome, TapeDrive, TapeError, WriteOutcome};

/// Writes a byte stream as fixed-size tape records.
pub struct RecordWriter<'a> {
    drive: &'a mut dyn TapeDrive,
    record: Vec<u8>,
    record_size: usize,
    pub written: u64,
    pub early_warning: bool,
    /// The drive error behind an `io::Error`, kept so the caller can classify it.
    pub error: Option<TapeError>,
    progress: &'a mut dyn FnMut(u64),
}

impl<'a> RecordWriter<'a> {
    pub fn new(drive: &'a mut dyn TapeDrive, record_size: usize, progress: &'a mut dyn FnMut(u64)) -> RecordWriter<'a> {
        RecordWriter { drive, record: Vec::with_capacity(record_size), record_size, written: 0, early_warning: false, error: None, progress }
    }

    fn put_record(&mut self) -> io::Result<()> {
        match self.drive.write_block(&self.record) {
            Ok(WriteOutcome::Written) => {}
            Ok(WriteOutcome::EarlyWarning) => self.early_warning = true,
            Err(e) => {
                let msg = e.to_string();
                self.error = Some(e);
                return Err(io::Error::other(msg));
            }
        }
        self.written += self.record.len() as u64;
        (self.progress)(self.written);
        self.record.clear();
        Ok(())
    }

    /// Write out a last, partial record (the image writers pad to whole records, so this is
    /// normally a no-op).
    pub fn finish(&mut self) -> io::Result<()> {
        if !self.record.is_empty() {
            self.put_record()?;
        }
        Ok(())
    }
}

impl Write for RecordWriter<'_> {
    fn write(&mut self, mut buf: &[u8]) -> io::Result<usize> {
        let n = buf.len();
        while !buf.is_empty() {
            let take = (self.record_size - self.record.len()).min(buf.len());
            self.record.extend_from_slice(&buf[..take]);
            buf = &buf[take..];
            if self.record.len() == self.record_size {
                self.put_record()?;
            }
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Reads one tape file (up to its filemark or end of data) as a byte stream.
pub struct FileReader<'a> {
    drive: &'a mut dyn TapeDrive,
    block: Vec<u8>,
    len: usize,
    pos: usize,
    done: bool,
    pub bytes_read: u64,
    pub error: Option<TapeError>,
}

impl<'a> FileReader<'a> {
    pub fn new(drive: &'a mut dyn TapeDrive, max_block: usize) -> FileReader<'a> {
        FileReader { drive, block: vec![0; max_block], len: 0, pos: 0, done: false, bytes_read: 0, error: None }
    }
}

impl Read for FileReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pos == self.len {
            if self.done {
                return Ok(0);
            }
            match self.drive.read_block(&mut self.block) {
                Ok(ReadOutcome::Data(n)) => {
                    self.len = n;
                    self.pos = 0;
                }
                Ok(ReadOutcome::Filemark | ReadOutcome::EndOfData) => {
                    self.done = true;
                    return Ok(0);
                }
                Err(e) => {
                    let msg = e.to_string();
                    self.error = Some(e);
                    return Err(io::Error::other(msg));
                }
            }
        }
        let n = (self.len - self.pos).min(buf.len());
        buf[..n].copy_from_slice(&self.block[self.pos..self.pos + n]);
        self.pos += n;
        self.bytes_read += n as u64;
        Ok(n)
    }
}
