//! The software device in the same process: frames pass without bytes.

use std::collections::VecDeque;
use std::time::Instant;

use leap_model::protocol::{Frame, SoftwareDevice};

use super::{Transport, TransportError};

/// Hands each request frame to a [`SoftwareDevice`] and queues its reply.
pub struct InProcessTransport {
    device: SoftwareDevice,
    replies: VecDeque<Frame>,
}

impl InProcessTransport {
    pub fn new(device: SoftwareDevice) -> InProcessTransport {
        InProcessTransport {
            device,
            replies: VecDeque::new(),
        }
    }

    pub fn device(&self) -> &SoftwareDevice {
        &self.device
    }
}

impl Transport for InProcessTransport {
    fn endpoint(&self) -> &str {
        "in-process software device"
    }

    fn send(&mut self, frames: &[Frame]) -> Result<(), TransportError> {
        for frame in frames {
            let reply = self.device.handle(frame);
            self.replies.push_back(reply);
        }
        Ok(())
    }

    /// Returns the oldest reply at once; the device replies to every request while it is sent, so
    /// an empty queue means no reply is coming.
    fn receive(&mut self, _deadline: Instant) -> Result<Frame, TransportError> {
        self.replies
            .pop_front()
            .ok_or_else(|| TransportError::TimedOut {
                endpoint: self.endpoint().to_string(),
            })
    }

    fn discard_input(&mut self) -> Result<(), TransportError> {
        self.replies.clear();
        Ok(())
    }
}
