//! Requests and replies over a transport: sequence numbers, deadlines, retries and streaming.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use leap_model::protocol::{
    ErrorCode, Frame, Opcode, Reply, Request, SampleBatch, SampleOutput, MAX_FRAME_LEN,
    MAX_RETRIES, REPLY_TIMEOUT,
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

    /// Sends `batches` as one stream of queue-samples frames with at most `window` of them
    /// outstanding, and returns their sample-results replies in order.
    ///
    /// The first batch must carry the start flag and no other may, because the frames get
    /// consecutive sequence numbers and the device runs them in that order. Every outstanding
    /// frame without a reply is sent again, oldest first, when the oldest reply does not arrive
    /// in time, comes back damaged, or the device refuses a later frame as out of order. The
    /// device resends the stored replies of frames it already ran. Frame `i`'s reply is passed
    /// to `on_output(i, &output)` as soon as all frames before it have theirs.
    pub fn stream(
        &mut self,
        batches: &[SampleBatch],
        window: usize,
        on_output: &mut dyn FnMut(usize, &SampleOutput),
    ) -> Result<Vec<SampleOutput>, LinkError> {
        let mut stream = Stream::new(batches, self.next_seq);
        self.next_seq = self.next_seq.wrapping_add(stream.frames.len() as u16);
        let window = window.max(1);
        let window_bytes = stream.frames[..stream.frames.len().min(window)]
            .iter()
            .map(Frame::wire_len)
            .sum();
        // NOTE: the wait covers the wire time of the window and of one reply but not the time
        // the device computes a frame's k samples. Samples of many time steps on a slow device
        // need a longer --reply-timeout.
        let wait = self.reply_wait(window_bytes);
        let mut attempts = 0;
        let mut last = String::new();
        let mut deadline = Instant::now() + wait;

        while !stream.done() {
            let fill_to = stream.frames.len().min(stream.oldest + window);
            if stream.next_to_send < fill_to {
                self.send(&stream.frames[stream.next_to_send..fill_to])?;
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
                    Some(index) if reply.opcode == Opcode::SampleResults => {
                        let Reply::SampleResults(output) =
                            self.decode(Opcode::QueueSamples, &reply)?
                        else {
                            unreachable!("a sample-results frame decodes to sample results")
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
                        match self.decode(Opcode::QueueSamples, &reply) {
                            Err(LinkError::Rejected { error, .. })
                                if error.code == ErrorCode::OUT_OF_ORDER =>
                            {
                                last = format!("the device refused frame {index} of the stream as out of order");
                                // The device rejects every frame after a lost one, so resend once per loss.
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
                    opcode: Opcode::QueueSamples,
                    seq: stream.seq(stream.oldest),
                    attempts,
                    timeout: wait,
                    last,
                });
            }
            let missing: Vec<Frame> = (stream.oldest..stream.next_to_send)
                .filter(|&i| stream.outputs[i].is_none())
                .map(|i| stream.frames[i].clone())
                .collect();
            self.stats.resends += missing.len() as u64;
            warn!(
                endpoint = self.endpoint(),
                seq = stream.seq(stream.oldest),
                attempt = attempts,
                "sending {} queue-samples frames again: {last}",
                missing.len()
            );
            self.send(&missing)?;
            deadline = Instant::now() + wait;
        }
        Ok(stream.outputs.into_iter().flatten().collect())
    }
}

/// Progress of one stream of queue-samples frames.
struct Stream {
    /// The encoded frames, with consecutive sequence numbers from `first_seq`.
    frames: Vec<Frame>,
    first_seq: u16,
    outputs: Vec<Option<SampleOutput>>,
    /// Frames before this index have been sent at least once.
    next_to_send: usize,
    /// Frames before this index have their replies.
    oldest: usize,
}

impl Stream {
    fn new(batches: &[SampleBatch], first_seq: u16) -> Stream {
        let frames = batches
            .iter()
            .enumerate()
            .map(|(index, batch)| {
                Request::QueueSamples(batch.clone()).to_frame(first_seq.wrapping_add(index as u16))
            })
            .collect();
        Stream {
            frames,
            first_seq,
            outputs: vec![None; batches.len()],
            next_to_send: 0,
            oldest: 0,
        }
    }

    fn done(&self) -> bool {
        self.oldest == self.frames.len()
    }

    fn seq(&self, index: usize) -> u16 {
        self.first_seq.wrapping_add(index as u16)
    }

    /// Finds the outstanding frame that `seq` belongs to. Sequence numbers wrap after 65 536
    /// frames, so they are compared relative to the oldest outstanding one.
    fn outstanding_index(&self, seq: u16) -> Option<usize> {
        let index = self.oldest + seq.wrapping_sub(self.seq(self.oldest)) as usize;
        (index < self.next_to_send).then_some(index)
    }
}

#[cfg(test)]
mod tests {
    use leap_model::protocol::Sample;

    use super::*;

    #[test]
    fn link_stream_index_survives_wrap() {
        let sample = Sample {
            start: false,
            input: vec![1],
            target: None,
        };
        let batch = SampleBatch::new(false, &[sample]).unwrap();
        let mut stream = Stream::new(&vec![batch; 70_003], 65_530);
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
