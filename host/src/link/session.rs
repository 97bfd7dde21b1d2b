//! Requests and replies over a transport: sequence numbers, deadlines, retries and streaming.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use leap_model::protocol::{
    ErrorCode, Frame, Opcode, Reply, Request, Sample, SampleOutput, MAX_FRAME_LEN, MAX_RETRIES,
    REPLY_TIMEOUT,
};
use tracing::{debug, warn};

use super::{LinkError, Transport, TransportError};

/// How long to wait for replies and how often to retry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinkOptions {
    /// Time to wait for a reply beyond the time the request and the reply take on the wire.
    pub reply_timeout: Duration,
    /// Times a request is sent again after a timeout or a damaged reply.
    pub retries: u32,
}

impl Default for LinkOptions {
    fn default() -> Self {
        LinkOptions {
            reply_timeout: REPLY_TIMEOUT,
            retries: MAX_RETRIES,
        }
    }
}

/// Traffic and recovery counts of a [`Link`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LinkStats {
    pub requests_sent: u64,
    pub request_payload_bytes: u64,
    pub request_wire_bytes: u64,
    pub replies_received: u64,
    pub reply_payload_bytes: u64,
    pub reply_wire_bytes: u64,
    /// Requests sent again after a timeout, a damaged reply or an out-of-order refusal.
    pub resends: u64,
    /// Intact replies that matched no outstanding request, such as late duplicates.
    pub stale_replies: u64,
    pub damaged_replies: u64,
}

/// A host's end of a link: numbers requests, waits for their replies and retries.
///
/// Retries are safe with a device that follows the protocol: it runs a state-changing request at
/// most once per sequence number and resends the stored reply to a retry.
pub struct Link {
    transport: Box<dyn Transport>,
    options: LinkOptions,
    next_seq: u16,
    stats: LinkStats,
}

impl Link {
    pub fn new(transport: Box<dyn Transport>, options: LinkOptions) -> Link {
        // Start the sequence numbers somewhere else each session, so that a late reply left
        // over from an earlier session is unlikely to match a request of this one.
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        Link {
            transport,
            options,
            next_seq: (nanos >> 8) as u16,
            stats: LinkStats::default(),
        }
    }

    pub fn endpoint(&self) -> &str {
        self.transport.endpoint()
    }

    pub fn options(&self) -> LinkOptions {
        self.options
    }

    pub fn stats(&self) -> LinkStats {
        self.stats
    }

    /// Discards received bytes that no request of this session asked for.
    pub fn discard_input(&mut self) -> Result<(), LinkError> {
        Ok(self.transport.discard_input()?)
    }

    fn take_seq(&mut self) -> u16 {
        let seq = self.next_seq;
        self.next_seq = self.next_seq.wrapping_add(1);
        seq
    }

    /// Time to wait for a reply to frames of `request_bytes`, with the largest reply frame's
    /// wire time allowed for.
    fn reply_wait(&self, request_bytes: usize) -> Duration {
        self.options.reply_timeout + self.transport.wire_time(request_bytes + MAX_FRAME_LEN)
    }

    fn send(&mut self, frames: &[Frame]) -> Result<(), LinkError> {
        self.transport.send(frames)?;
        for frame in frames {
            self.stats.requests_sent += 1;
            self.stats.request_payload_bytes += frame.payload.len() as u64;
            self.stats.request_wire_bytes += frame.wire_len() as u64;
        }
        Ok(())
    }

    /// Receives one frame, or `None` when the wait ended without an intact one. In that case
    /// `last` describes the reason.
    fn receive(
        &mut self,
        deadline: Instant,
        last: &mut String,
    ) -> Result<Option<Frame>, LinkError> {
        match self.transport.receive(deadline) {
            Ok(frame) => {
                self.stats.replies_received += 1;
                self.stats.reply_payload_bytes += frame.payload.len() as u64;
                self.stats.reply_wire_bytes += frame.wire_len() as u64;
                Ok(Some(frame))
            }
            Err(TransportError::TimedOut { .. }) => {
                *last = "timed out".into();
                Ok(None)
            }
            Err(TransportError::Damaged { error, .. }) => {
                self.stats.damaged_replies += 1;
                *last = format!("damaged reply: {error}");
                Ok(None)
            }
            Err(other) => Err(other.into()),
        }
    }

    fn decode(&self, opcode: Opcode, frame: &Frame) -> Result<Reply, LinkError> {
        match Reply::from_frame(frame) {
            Ok(Reply::Error(error)) => Err(LinkError::Rejected {
                endpoint: self.endpoint().to_string(),
                opcode,
                seq: frame.seq,
                error,
            }),
            Ok(reply) => Ok(reply),
            Err(error) => Err(LinkError::InvalidReply {
                endpoint: self.endpoint().to_string(),
                opcode,
                reason: format!("its {} payload is malformed: {error}", frame.opcode),
            }),
        }
    }

    /// Sends a request and returns its reply, sending it again after a timeout or a damaged
    /// reply up to [`LinkOptions::retries`] times. An error reply becomes
    /// [`LinkError::Rejected`].
    pub fn request(&mut self, request: &Request) -> Result<Reply, LinkError> {
        let seq = self.take_seq();
        let frame = request.to_frame(seq);
        let opcode = frame.opcode;
        let expected = opcode.reply().expect("a request opcode has a reply opcode");
        let wait = self.reply_wait(frame.wire_len());
        let mut last = String::new();

        for attempt in 0..=self.options.retries {
            if attempt > 0 {
                self.stats.resends += 1;
                warn!(endpoint = self.endpoint(), %opcode, seq, attempt, "sending the request again: {last}");
            }
            self.send(std::slice::from_ref(&frame))?;
            let deadline = Instant::now() + wait;
            while let Some(reply) = self.receive(deadline, &mut last)? {
                if reply.seq == seq && (reply.opcode == expected || reply.opcode == Opcode::Error) {
                    return self.decode(opcode, &reply);
                }
                self.stats.stale_replies += 1;
                debug!(endpoint = self.endpoint(), seq = reply.seq, opcode = %reply.opcode, "ignoring a reply that matches no outstanding request");
            }
        }
        Err(LinkError::NoReply {
            endpoint: self.endpoint().to_string(),
            opcode,
            seq,
            attempts: self.options.retries + 1,
            timeout: wait,
            last,
        })
    }

    /// Runs `samples` as one stream of queued samples with at most `window` of them
    /// outstanding, and returns their outputs in order.
    ///
    /// The first sample carries the start flag and the rest have consecutive sequence numbers,
    /// so the device runs them in order. Every outstanding sample without a result is sent again,
    /// oldest first, when the oldest result does not arrive in time, comes back damaged, or the
    /// device refuses a later sample as out of order. The device resends the stored results of
    /// samples it already ran. Sample `i`'s output is passed to
    /// `on_output(i, &output)` as soon as all samples before it have theirs.
    pub fn stream(
        &mut self,
        samples: Vec<Sample>,
        window: usize,
        on_output: &mut dyn FnMut(usize, &SampleOutput),
    ) -> Result<Vec<SampleOutput>, LinkError> {
        let mut stream = Stream::new(samples, self.next_seq);
        self.next_seq = self.next_seq.wrapping_add(stream.samples.len() as u16);
        let window = window.max(1);
        let window_bytes = (0..stream.samples.len().min(window))
            .map(|i| stream.frame(i).wire_len())
            .sum();
        let wait = self.reply_wait(window_bytes);
        let mut attempts = 0;
        let mut last = String::new();
        let mut deadline = Instant::now() + wait;

        while !stream.done() {
            let fill_to = stream.samples.len().min(stream.oldest + window);
            if stream.next_to_send < fill_to {
                let frames: Vec<Frame> = (stream.next_to_send..fill_to)
                    .map(|i| stream.frame(i))
                    .collect();
                self.send(&frames)?;
                if stream.next_to_send == stream.oldest {
                    deadline = Instant::now() + wait;
                }
                stream.next_to_send = fill_to;
            }

            let resend = match self.receive(deadline, &mut last)? {
                None => true,
                Some(reply) => match stream.outstanding_index(reply.seq) {
                    None => {
                        self.stats.stale_replies += 1;
                        false
                    }
                    Some(index) if reply.opcode == Opcode::SampleResult => {
                        let Reply::SampleResult(output) =
                            self.decode(Opcode::QueueSample, &reply)?
                        else {
                            unreachable!("a sample-result frame decodes to a sample result")
                        };
                        stream.outputs[index].get_or_insert(output);
                        while let Some(Some(output)) = stream.outputs.get(stream.oldest) {
                            on_output(stream.oldest, output);
                            stream.oldest += 1;
                            attempts = 0;
                            deadline = Instant::now() + wait;
                        }
                        false
                    }
                    Some(index) if reply.opcode == Opcode::Error => {
                        match self.decode(Opcode::QueueSample, &reply) {
                            Err(LinkError::Rejected { error, .. })
                                if error.code == ErrorCode::OUT_OF_ORDER =>
                            {
                                last = format!("the device refused sample {index} of the stream as out of order");
                                // Every sample after a lost one is refused; resend once per loss.
                                index + 1 == stream.next_to_send
                            }
                            Err(other) => return Err(other),
                            Ok(_) => unreachable!("an error frame decodes to an error"),
                        }
                    }
                    Some(_) => {
                        self.stats.stale_replies += 1;
                        false
                    }
                },
            };
            if !resend {
                continue;
            }

            attempts += 1;
            if attempts > self.options.retries {
                return Err(LinkError::NoReply {
                    endpoint: self.endpoint().to_string(),
                    opcode: Opcode::QueueSample,
                    seq: stream.seq(stream.oldest),
                    attempts,
                    timeout: wait,
                    last,
                });
            }
            let missing: Vec<Frame> = (stream.oldest..stream.next_to_send)
                .filter(|&i| stream.outputs[i].is_none())
                .map(|i| stream.frame(i))
                .collect();
            self.stats.resends += missing.len() as u64;
            warn!(
                endpoint = self.endpoint(),
                seq = stream.seq(stream.oldest),
                attempt = attempts,
                "sending {} queued samples again: {last}",
                missing.len()
            );
            self.send(&missing)?;
            deadline = Instant::now() + wait;
        }
        Ok(stream.outputs.into_iter().flatten().collect())
    }
}

/// Progress of one stream of queued samples.
struct Stream {
    samples: Vec<Sample>,
    first_seq: u16,
    outputs: Vec<Option<SampleOutput>>,
    /// Samples before this index have been sent at least once.
    next_to_send: usize,
    /// Samples before this index have their outputs.
    oldest: usize,
}

impl Stream {
    fn new(samples: Vec<Sample>, first_seq: u16) -> Stream {
        let outputs = vec![None; samples.len()];
        Stream {
            samples,
            first_seq,
            outputs,
            next_to_send: 0,
            oldest: 0,
        }
    }

    fn done(&self) -> bool {
        self.oldest == self.samples.len()
    }

    fn seq(&self, index: usize) -> u16 {
        self.first_seq.wrapping_add(index as u16)
    }

    /// Encodes sample `index`; the first sample of the stream carries the start flag.
    fn frame(&self, index: usize) -> Frame {
        let sample = Sample {
            start: index == 0,
            ..self.samples[index].clone()
        };
        Request::QueueSample(sample).to_frame(self.seq(index))
    }

    /// Finds the outstanding sample that `seq` belongs to. Sequence numbers wrap after 65 536
    /// samples, so they are compared relative to the oldest outstanding one.
    fn outstanding_index(&self, seq: u16) -> Option<usize> {
        let index = self.oldest + seq.wrapping_sub(self.seq(self.oldest)) as usize;
        (index < self.next_to_send).then_some(index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_stream_index_survives_wrap() {
        let empty = Sample {
            start: false,
            input: Vec::new(),
            target: None,
        };
        let mut stream = Stream::new(vec![empty; 70_003], 65_530);
        stream.oldest = 70_000;
        stream.next_to_send = 70_002;
        let seq = stream.seq(70_001);
        assert_eq!(seq, (65_530u32 + 70_001) as u16);
        assert_eq!(stream.outstanding_index(seq), Some(70_001));
        assert_eq!(stream.outstanding_index(stream.seq(70_000)), Some(70_000));
        assert_eq!(
            stream.outstanding_index(stream.seq(70_002)),
            None,
            "not sent yet"
        );
        assert_eq!(
            stream.outstanding_index(stream.seq(69_999)),
            None,
            "already done"
        );
    }
}
