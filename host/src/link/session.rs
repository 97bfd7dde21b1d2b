//! Requests and replies over a transport: sequence numbers, deadlines, retries and streaming.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use leap_model::protocol::{
    ErrorCode, Frame, Opcode, Reply, Request, Sample, SampleBatch, SampleOutput, MAX_FRAME_LEN,
    MAX_RETRIES, REPLY_TIMEOUT,
};
use tracing::{debug, warn};

use super::pacing::Pacing;
use super::{LinkError, Transport, TransportError};

/// How long to wait for replies and how often to retry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinkOptions {
    /// Time to wait for a reply beyond the time the request and the reply take on the wire and
    /// the compute time the link measured for the samples the request carries. A device must
    /// reply to a request of one sample within it before the link has measured anything.
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
    /// Requests sent again after a timeout, a damaged reply or an out-of-order rejection.
    pub resends: u64,
    /// Intact replies that matched no outstanding request, such as late duplicates.
    pub stale_replies: u64,
    pub damaged_replies: u64,
}

/// A host's end of a link: numbers requests, waits for their replies and retries.
///
/// Retries are safe with a device that follows the protocol: it runs a state-changing request at
/// most once per sequence number and resends the stored reply to a retry.
///
/// The wait for a reply grows with the samples the request carries, by the compute time per
/// sample that the link measures on the replies it gets (see [`Link::stream`]).
pub struct Link {
    transport: Box<dyn Transport>,
    options: LinkOptions,
    next_seq: u16,
    stats: LinkStats,
    pacing: Pacing,
}

impl Link {
    pub fn new(mut transport: Box<dyn Transport>, options: LinkOptions) -> Link {
        // Start the sequence numbers somewhere else each session, so that a late reply left
        // over from an earlier session is unlikely to match a request of this one.
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        transport.set_write_timeout(options.reply_timeout);
        Link {
            transport,
            options,
            next_seq: (nanos >> 8) as u16,
            stats: LinkStats::default(),
            pacing: Pacing::default(),
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

    /// Returns the time the link allows the device for `samples` samples, with or without the
    /// learn flag, on top of the reply timeout. Zero until a reply of that kind was measured.
    pub fn work_allowance(&self, learn: bool, samples: usize) -> Duration {
        self.pacing.get(learn).timer.allowance(samples)
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

    /// Time to wait for a reply to frames of `request_bytes` that ask for `work` of computation,
    /// with the largest reply frame's wire time allowed for.
    fn reply_wait(&self, request_bytes: usize, work: Duration) -> Duration {
        self.options
            .reply_timeout
            .saturating_add(self.transport.wire_time(request_bytes + MAX_FRAME_LEN))
            .saturating_add(work)
    }

    /// Sends `frames` and gives the write `work` beyond the reply timeout to be taken, because a
    /// device that computes reads no more bytes until it is done.
    fn send(&mut self, frames: &[Frame], work: Duration) -> Result<(), LinkError> {
        self.transport
            .set_write_timeout(self.options.reply_timeout.saturating_add(work));
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

    /// Returns the device's compute time for a request of `request_bytes` sent at `started_at`
    /// whose reply of `reply_bytes` arrived at `replied_at`: the time between minus the wire time
    /// of both frames.
    fn work_between(
        &self,
        started_at: Instant,
        request_bytes: usize,
        replied_at: Instant,
        reply_bytes: usize,
    ) -> Duration {
        let received_at = started_at + self.transport.wire_time(request_bytes);
        replied_at
            .saturating_duration_since(received_at)
            .saturating_sub(self.transport.wire_time(reply_bytes))
    }

    /// Sends a request and returns its reply, sending it again after a timeout or a damaged
    /// reply up to [`LinkOptions::retries`] times. An error reply becomes
    /// [`LinkError::Rejected`].
    ///
    /// A run-sample request waits the work allowance of one sample longer than other requests,
    /// and its reply, if the first attempt got it, adds to the measured compute time per sample.
    pub fn request(&mut self, request: &Request) -> Result<Reply, LinkError> {
        let seq = self.take_seq();
        let frame = request.to_frame(seq);
        let opcode = frame.opcode;
        let expected = opcode.reply().expect("a request opcode has a reply opcode");
        let learn = match request {
            Request::RunSample(sample) => Some(sample.target.is_some()),
            _ => None,
        };
        let work = learn.map_or(Duration::ZERO, |learn| self.work_allowance(learn, 1));
        let wait = self.reply_wait(frame.wire_len(), work);
        let mut last = String::new();

        for attempt in 0..=self.options.retries {
            if attempt > 0 {
                self.stats.resends += 1;
                warn!(endpoint = self.endpoint(), %opcode, seq, attempt, "sending the request again: {last}");
            }
            let sent_at = Instant::now();
            self.send(std::slice::from_ref(&frame), work)?;
            let deadline = Instant::now() + wait;
            while let Some(reply) = self.receive(deadline, &mut last)? {
                if reply.seq != seq || (reply.opcode != expected && reply.opcode != Opcode::Error) {
                    self.stats.stale_replies += 1;
                    debug!(endpoint = self.endpoint(), seq = reply.seq, opcode = %reply.opcode, "ignoring a reply that matches no outstanding request");
                    continue;
                }
                // Only the first attempt is timed, because a later reply may belong to an
                // earlier send.
                if let (Some(learn), 0, Opcode::SampleOutput) = (learn, attempt, reply.opcode) {
                    let work = self.work_between(
                        sent_at,
                        frame.wire_len(),
                        Instant::now(),
                        reply.wire_len(),
                    );
                    self.pacing.get_mut(learn).timer.observe(work, 1);
                }
                return self.decode(opcode, &reply);
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

    /// Sends `samples` as one stream of queue-samples frames of at most `max_samples` samples
    /// each, with at most `window` frames outstanding, and returns each frame's sample count and
    /// sample-results reply in order.
    ///
    /// All samples must share their input count, target count and target kind. The frames get
    /// consecutive sequence numbers, the first carries the start flag, and the device runs them
    /// in that order.
    ///
    /// Frame sizes and deadlines follow the device's compute time per sample, which the link
    /// measures on each reply. A frame starts at the later of the request's arrival and the end
    /// of the previous frame, and it ends at its reply's arrival minus the reply's wire time. The
    /// time between, divided by the frame's samples, is one measurement. Until the first
    /// measurement of a kind (with or without the learn flag), frames carry one sample.
    /// Each reply that arrives in time doubles the samples of the frames sent after it, up to
    /// `max_samples`. The oldest frame without a reply has until the reply timeout, plus the wire
    /// time of the outstanding frames and of one maximum reply, plus its samples times the
    /// measured bound per sample. Each attempt after a timeout doubles that last term.
    ///
    /// Every outstanding frame without a reply is sent again, oldest first, when the oldest reply
    /// does not arrive in time, comes back damaged, or the device rejects a later frame as out of
    /// order. The device resends the stored replies of frames it already ran. A frame's reply is
    /// passed to `on_output(samples, &output)` as soon as all frames before it have theirs.
    pub fn stream(
        &mut self,
        samples: &[Sample],
        max_samples: usize,
        window: usize,
        on_output: &mut dyn FnMut(usize, &SampleOutput),
    ) -> Result<Vec<(usize, SampleOutput)>, LinkError> {
        let learn = samples
            .first()
            .is_some_and(|sample| sample.target.is_some());
        let max_samples = max_samples.max(1);
        let window = window.max(1);
        let mut stream = Stream::new(samples, self.next_seq);
        let mut attempts = 0;
        let mut last = String::new();
        let mut wait = Duration::ZERO;
        let mut deadline = Instant::now();

        while !stream.done() {
            // Frames are built when the window has room, so each gets the frame size of then.
            let first_new = stream.frames.len();
            while stream.frames.len() < stream.oldest + window && !stream.all_framed() {
                let count = self.pacing.get(learn).frame_samples(max_samples);
                let seq = self.take_seq();
                stream
                    .push(seq, count)
                    .map_err(|reason| LinkError::InvalidRequest {
                        endpoint: self.endpoint().to_string(),
                        reason,
                    })?;
            }
            if first_new < stream.frames.len() {
                let frames = stream.frames_from(first_new);
                let sent_at = Instant::now();
                self.send(&frames, self.outstanding_work(&stream, 0))?;
                for frame in &mut stream.frames[first_new..] {
                    frame.sent_at = sent_at;
                }
                if first_new == stream.oldest {
                    wait = self.oldest_wait(&stream, 0);
                    deadline = Instant::now() + wait;
                }
            }

            let resend = match self.receive(deadline, &mut last)? {
                None => {
                    self.pacing.get_mut(learn).shrink();
                    true
                }
                Some(reply) => match stream.outstanding_index(reply.seq) {
                    None => {
                        self.stats.stale_replies += 1;
                        false
                    }
                    Some(index) if reply.opcode == Opcode::SampleResults => {
                        let replied_at = Instant::now();
                        let Reply::SampleResults(output) =
                            self.decode(Opcode::QueueSamples, &reply)?
                        else {
                            unreachable!("a sample-results frame decodes to sample results")
                        };
                        if stream.frames[index].output.is_none() {
                            self.record_reply(
                                &mut stream,
                                index,
                                replied_at,
                                reply.wire_len(),
                                max_samples,
                            );
                            stream.frames[index].output = Some(output);
                        }
                        let before = stream.oldest;
                        while let Some(frame) = stream.frames.get(stream.oldest) {
                            let Some(output) = &frame.output else { break };
                            on_output(frame.samples, output);
                            stream.oldest += 1;
                        }
                        if stream.oldest > before {
                            attempts = 0;
                            wait = self.oldest_wait(&stream, 0);
                            deadline = Instant::now() + wait;
                        }
                        false
                    }
                    Some(index) if reply.opcode == Opcode::Error => {
                        match self.decode(Opcode::QueueSamples, &reply) {
                            Err(LinkError::Rejected { error, .. })
                                if error.code == ErrorCode::OUT_OF_ORDER =>
                            {
                                last = format!("the device rejected frame {index} of the stream as out of order");
                                // The device rejects every frame after a lost one, so resend once per loss.
                                index + 1 == stream.frames.len()
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
            let missing: Vec<usize> = (stream.oldest..stream.frames.len())
                .filter(|&i| stream.frames[i].output.is_none())
                .collect();
            let frames: Vec<Frame> = missing
                .iter()
                .map(|&i| stream.frames[i].frame.clone())
                .collect();
            for &i in &missing {
                stream.frames[i].resent = true;
            }
            self.stats.resends += missing.len() as u64;
            warn!(
                endpoint = self.endpoint(),
                seq = stream.seq(stream.oldest),
                attempt = attempts,
                "sending {} queue-samples frames again: {last}",
                missing.len()
            );
            self.send(&frames, self.outstanding_work(&stream, attempts))?;
            wait = self.oldest_wait(&stream, attempts);
            deadline = Instant::now() + wait;
        }
        Ok(stream
            .frames
            .into_iter()
            .filter_map(|frame| Some((frame.samples, frame.output?)))
            .collect())
    }

    /// Returns the work allowance of `samples` samples at attempt `attempt`: doubled for each
    /// attempt after the first, up to 1024 times, because a missed deadline may mean the device
    /// became slower.
    fn attempt_allowance(&self, learn: bool, samples: usize, attempt: u32) -> Duration {
        let allowance = self.work_allowance(learn, samples);
        allowance
            .checked_mul(1 << attempt.min(10))
            .unwrap_or(Duration::MAX)
    }

    /// Returns the wait for the oldest outstanding frame's reply at attempt `attempt`.
    fn oldest_wait(&self, stream: &Stream, attempt: u32) -> Duration {
        let Some(oldest) = stream.frames.get(stream.oldest) else {
            return self.options.reply_timeout;
        };
        let bytes = stream.frames[stream.oldest..]
            .iter()
            .map(|frame| frame.frame.wire_len())
            .sum();
        let work = self.attempt_allowance(stream.learn, oldest.samples, attempt);
        self.reply_wait(bytes, work)
    }

    /// Returns the work allowance of all outstanding frames without a reply: the longest the
    /// device may compute before it reads the next bytes.
    fn outstanding_work(&self, stream: &Stream, attempt: u32) -> Duration {
        stream.frames[stream.oldest..]
            .iter()
            .filter(|frame| frame.output.is_none())
            .map(|frame| self.attempt_allowance(stream.learn, frame.samples, attempt))
            .fold(Duration::ZERO, Duration::saturating_add)
    }

    /// Records the first reply to frame `index`, which arrived at `replied_at`. Unless the frame
    /// was resent, the reply adds to the measured compute time per sample and doubles the frame
    /// size. A resent frame is not timed, because its reply may belong to either send.
    fn record_reply(
        &mut self,
        stream: &mut Stream,
        index: usize,
        replied_at: Instant,
        reply_bytes: usize,
        max_samples: usize,
    ) {
        let finished_at = replied_at
            .checked_sub(self.transport.wire_time(reply_bytes))
            .unwrap_or(replied_at);
        stream.frames[index].finished_at = Some(finished_at);
        let frame = &stream.frames[index];
        if frame.resent {
            return;
        }
        // The device starts a frame once it has received it and finished the previous one.
        let received_at = frame.sent_at + self.transport.wire_time(frame.frame.wire_len());
        let started_at = match index.checked_sub(1) {
            None => received_at,
            Some(previous) => match stream.frames[previous].finished_at {
                Some(at) => at.max(received_at),
                // The previous frame's reply was lost, so this frame's start is unknown.
                None => return,
            },
        };
        let work = finished_at.saturating_duration_since(started_at);
        let pace = self.pacing.get_mut(stream.learn);
        pace.timer.observe(work, frame.samples);
        pace.grow(max_samples);
    }
}

/// One queue-samples frame of a stream.
struct StreamFrame {
    frame: Frame,
    /// Samples in the frame.
    samples: usize,
    /// When the frame was first sent.
    sent_at: Instant,
    /// Whether the frame was sent more than once.
    resent: bool,
    /// When the device finished the frame: its first reply's arrival minus the reply's wire time.
    finished_at: Option<Instant>,
    output: Option<SampleOutput>,
}

/// Progress of one stream of queue-samples frames.
struct Stream<'a> {
    samples: &'a [Sample],
    /// Whether the samples carry targets to learn.
    learn: bool,
    /// The frames built so far, all sent at least once, with consecutive sequence numbers from
    /// `first_seq`.
    frames: Vec<StreamFrame>,
    first_seq: u16,
    /// Samples before this index are in `frames`.
    next_sample: usize,
    /// Frames before this index have their replies.
    oldest: usize,
}

impl<'a> Stream<'a> {
    fn new(samples: &'a [Sample], first_seq: u16) -> Stream<'a> {
        Stream {
            samples,
            learn: samples
                .first()
                .is_some_and(|sample| sample.target.is_some()),
            frames: Vec::new(),
            first_seq,
            next_sample: 0,
            oldest: 0,
        }
    }

    fn all_framed(&self) -> bool {
        self.next_sample == self.samples.len()
    }

    fn done(&self) -> bool {
        self.all_framed() && self.oldest == self.frames.len()
    }

    /// Builds the next frame from up to `count` samples, with sequence number `seq`, which
    /// must be `first_seq` plus the number of frames built so far.
    fn push(&mut self, seq: u16, count: usize) -> Result<(), String> {
        debug_assert_eq!(seq, self.seq(self.frames.len()));
        let end = (self.next_sample + count).min(self.samples.len());
        let chunk = &self.samples[self.next_sample..end];
        let batch = SampleBatch::new(self.frames.is_empty(), chunk)?;
        self.frames.push(StreamFrame {
            frame: Request::QueueSamples(batch).to_frame(seq),
            samples: chunk.len(),
            sent_at: Instant::now(),
            resent: false,
            finished_at: None,
            output: None,
        });
        self.next_sample = end;
        Ok(())
    }

    /// Returns copies of the frames from `first` on, for one write.
    fn frames_from(&self, first: usize) -> Vec<Frame> {
        self.frames[first..]
            .iter()
            .map(|frame| frame.frame.clone())
            .collect()
    }

    fn seq(&self, index: usize) -> u16 {
        self.first_seq.wrapping_add(index as u16)
    }

    /// Finds the outstanding frame that `seq` belongs to. Sequence numbers wrap after 65 536
    /// frames, so they are compared relative to the oldest outstanding one.
    fn outstanding_index(&self, seq: u16) -> Option<usize> {
        let index = self.oldest + seq.wrapping_sub(self.seq(self.oldest)) as usize;
        (index < self.frames.len()).then_some(index)
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
        let samples = vec![sample; 70_003];
        let mut stream = Stream::new(&samples, 65_530);
        for index in 0..70_002 {
            stream.push(stream.seq(index), 1).unwrap();
        }
        stream.oldest = 70_000;
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
        assert!(!stream.all_framed());
        stream.push(stream.seq(70_002), 5).unwrap();
        assert!(stream.all_framed());
        assert_eq!(stream.frames[70_002].samples, 1, "only one sample was left");
    }

    #[test]
    fn link_stream_marks_only_first_frame_start() {
        let sample = Sample {
            start: false,
            input: vec![1, 2],
            target: None,
        };
        let samples = vec![sample; 7];
        let mut stream = Stream::new(&samples, 9);
        for (index, count) in [1, 2, 4].into_iter().enumerate() {
            stream.push(stream.seq(index), count).unwrap();
        }
        let counts: Vec<usize> = stream.frames.iter().map(|f| f.samples).collect();
        assert_eq!(counts, vec![1, 2, 4]);
        let starts: Vec<bool> = stream
            .frames
            .iter()
            .map(|f| match Request::from_frame(&f.frame) {
                Ok(Request::QueueSamples(batch)) => batch.start(),
                other => panic!("not a queue-samples frame: {other:?}"),
            })
            .collect();
        assert_eq!(starts, vec![true, false, false]);
        let seqs: Vec<u16> = stream.frames.iter().map(|f| f.frame.seq).collect();
        assert_eq!(seqs, vec![9, 10, 11]);
    }
}
