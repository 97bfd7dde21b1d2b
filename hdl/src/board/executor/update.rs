//! The executor's `update`: wiring and defaults first, then the state machine, then the reply
//! byte path.

use rust_hdl::prelude::*;

use super::{CommandExecutor, ExecState};

impl Logic for CommandExecutor {
    #[hdl_gen]
    fn update(&mut self) {
        // ---- Clocks and resets. ----
        self.state.clock.next = self.clock.val();
        self.state.reset.next = self.reset.val();
        self.ret.clock.next = self.clock.val();
        self.ptr.clock.next = self.clock.val();
        self.ptr.reset.next = self.reset.val();
        self.gather_left.clock.next = self.clock.val();
        self.gather_left.reset.next = self.reset.val();
        self.put_left.clock.next = self.clock.val();
        self.put_left.reset.next = self.reset.val();
        self.out_address.clock.next = self.clock.val();
        self.out_address.reset.next = self.reset.val();
        self.caching.clock.next = self.clock.val();
        self.caching.reset.next = self.reset.val();
        self.error_reply.clock.next = self.clock.val();
        self.stored_source.clock.next = self.clock.val();
        self.length_out.clock.next = self.clock.val();
        self.samples.clock.next = self.clock.val();
        self.samples.reset.next = self.reset.val();
        self.index.clock.next = self.clock.val();
        self.index.reset.next = self.reset.val();
        self.address.clock.next = self.clock.val();
        self.address.reset.next = self.reset.val();
        self.sample.clock.next = self.clock.val();
        self.sample.reset.next = self.reset.val();
        self.select_code.clock.next = self.clock.val();
        self.select_code.reset.next = self.reset.val();
        self.checking_values.clock.next = self.clock.val();
        self.new_target.clock.next = self.clock.val();
        self.new_learning.clock.next = self.clock.val();
        self.learn_steps.clock.next = self.clock.val();
        self.settle_steps.clock.next = self.clock.val();
        self.learning.clock.next = self.clock.val();
        self.voltage.clock.next = self.clock.val();
        self.learn_steps.reset.next = self.reset.val();
        self.settle_steps.reset.next = self.reset.val();
        self.learning.reset.next = self.reset.val();
        self.voltage.reset.next = self.reset.val();
        self.stream_open.clock.next = self.clock.val();
        self.stream_open.reset.next = self.reset.val();
        self.stream_next.clock.next = self.clock.val();
        self.command_select.clock.next = self.clock.val();
        self.command_address.clock.next = self.clock.val();
        self.command_data.clock.next = self.clock.val();
        self.command_learn.clock.next = self.clock.val();
        self.gather.clock.next = self.clock.val();
        self.serializer.clock.next = self.clock.val();
        self.identity.clock.next = self.clock.val();
        self.walker.clock.next = self.clock.val();
        self.walker.reset.next = self.reset.val();
        self.cache.clock.next = self.clock.val();
        self.cache.reset.next = self.reset.val();

        // rust-hdl reports a logic loop for a local signal read before it is assigned, so this
        // comes ahead of the defaults that read it.
        self.steps_difference.next =
            self.gather.w0.val().get_bits::<21>(0) - self.gather.w1.val().get_bits::<21>(0);

        // ---- Defaults: hold every register, strobe nothing. ----
        self.state.d.next = self.state.q.val();
        self.ret.enable.next = false;
        self.ret.d.next = self.state.q.val();
        self.ptr.load.next = false;
        self.ptr.value.next = self.zero16.val();
        self.ptr.enable.next = false;
        self.ptr.step.next = self.one16.val();
        self.gather_left.load.next = false;
        self.gather_left.value.next = self.eight4.val();
        self.gather_left.enable.next = false;
        self.gather_left.step.next = self.minus_one4.val();
        self.put_left.load.next = false;
        self.put_left.value.next = self.eight4.val();
        self.put_left.enable.next = false;
        self.put_left.step.next = self.minus_one4.val();
        self.out_address.load.next = false;
        self.out_address.value.next = self.zero16.val();
        self.out_address.enable.next = false;
        self.out_address.step.next = self.one16.val();
        self.caching.d.next = self.caching.q.val();
        self.error_reply.enable.next = false;
        self.error_reply.d.next = false;
        self.length_out.enable.next = false;
        self.length_out.d.next = self.out_address.q.val();
        self.error_now.next = false;
        self.detail_source.next = self.detail_zero.val();
        self.samples.load.next = false;
        self.samples.value.next = self.gather.h2.val();
        self.samples.enable.next = false;
        self.samples.step.next = self.one16.val();
        self.index.load.next = false;
        self.index.value.next = self.zero16.val();
        self.index.enable.next = false;
        self.index.step.next = self.one16.val();
        self.address.load.next = false;
        self.address.value.next = self.gather.h2.val();
        self.address.enable.next = false;
        self.address.step.next = self.one16.val();
        self.sample.load.next = false;
        self.sample.value.next = self.zero16.val();
        self.sample.enable.next = false;
        self.sample.step.next = self.one16.val();
        self.select_code.load.next = false;
        self.select_code.value.next = self.select_first_state.val();
        self.select_code.enable.next = false;
        self.select_code.step.next = self.one8.val();
        self.checking_values.enable.next = false;
        self.checking_values.d.next = false;
        self.new_target.enable.next = false;
        self.new_target.d.next = self.gather.b0.val() == self.one8.val();
        self.new_learning.enable.next = false;
        self.new_learning.d.next = self.gather.b1.val() == self.one8.val();
        self.learn_steps.enable.next = false;
        self.learn_steps.d.next = self.steps_difference.val().get_bits::<20>(0);
        self.settle_steps.enable.next = false;
        self.settle_steps.d.next = self.gather.w1.val().get_bits::<20>(0);
        self.learning.enable.next = false;
        self.learning.d.next = self.new_learning.q.val();
        self.voltage.enable.next = false;
        self.voltage.d.next = self.new_target.q.val();
        self.stream_open.d.next = self.stream_open.q.val();
        self.stream_next.enable.next = false;
        self.stream_next.d.next = self.frame_seq.val() + self.one16.val();
        self.command_select.enable.next = false;
        self.command_select.d.next = self.memory_select.read_select.val();
        self.command_address.enable.next = false;
        self.command_address.d.next = self.wide_address.result.val();
        self.command_data.enable.next = false;
        self.command_data.d.next = self.gather.operand.val();
        self.command_learn.enable.next = false;
        self.command_learn.d.next = false;

        // ---- Units. ----
        self.payload_address.next = self.ptr.q.val();
        self.gather.data.next = self.payload_byte.val();
        self.gather.shift.next = false;
        self.gather_into_low.value.next = self.gather_left.q.val();
        self.gather.into_low.next = self.gather_into_low.above.val();
        self.gather.clear.next = false;
        self.gather.operand_short.next = false;
        self.gather.operand_top.next = false;
        self.gather.operand_signed.next = true;
        self.serializer.clear.next = false;
        self.serializer.preset.next = false;
        self.serializer.load.next = false;
        self.serializer.shift.next = false;
        self.serializer.accumulate.next = false;
        self.serializer.length.next = self.frame_length.val();
        self.identity.address.next = self.index.q.val();
        self.range.memory.next = self.gather.b0.val();
        self.range.offset.next = self.gather.w1.val();
        self.range.count.next = self.gather.h1.val();
        self.memory_select.memory.next = self.gather.b0.val();
        self.fit.memory.next = self.gather.b0.val();
        self.fit.word.next = self.gather.w1.val();
        self.coefficient.word.next = self.gather.w1.val();
        self.coefficient.kind.next = self.kind_rate.val();
        if self.index.q.val() == self.zero16.val() {
            self.coefficient.kind.next = self.kind_step.val();
        }
        if self.index.q.val() == self.one16.val() {
            self.coefficient.kind.next = self.kind_ratio.val();
        }
        if self.index.q.val() == self.two16.val() {
            self.coefficient.kind.next = self.kind_nudging.val();
        }
        self.lengths.length.next = self.frame_length.val();
        self.lengths.flags.next = self.gather.b0.val();
        self.lengths.count.next = self.gather.h1.val();
        // Queue checks only: the sample count in the queue header.
        self.lengths.samples.next = self.gather.h2.val();
        self.walker.start.next = false;
        self.walker.offset.next = self.gather.w1.val();
        self.walker.advance.next = false;
        self.cache.clear.next = false;
        self.cache.opcode.next = self.frame_opcode.val().get_bits::<3>(0);
        self.cache.seq.next = self.frame_seq.val();
        self.cache.length.next = self.length_out.q.val();
        self.cache.lookup.next = false;
        self.cache.insert.next = false;
        // A replayed reply's byte `index` in the slot found.
        self.cache.read_address.next =
            self.cache.hit_base.val() | (self.index.q.val() & self.slot_offset_mask.val());
        self.words.memory.next = self.gather.b0.val();
        self.words.count.next = self.gather.h1.val();
        self.words.offset.next = self.gather.w1.val();
        self.words.opcode.next = self.frame_opcode.val();
        self.error_detail.byte.next = self.gather.b0.val();
        self.error_detail.index.next = self.index.q.val();
        self.error_detail.address.next = self.address.q.val();
        self.error_detail.stream_next.next = self.stream_next.q.val();
        self.error_detail.write_length.next = self.lengths.write_length.val();
        self.error_detail.memory_size.next = self.range.size.val();
        self.error_detail.whole_rates.next = self.lengths.whole_rates.val();
        self.error_detail.inputs_end.next = self.lengths.inputs_end.val();
        self.error_detail.one_sample_length.next = self.lengths.one_sample_length.val();
        self.error_detail.limit_length.next = self.lengths.limit_length.val();
        self.error_detail.sample_flags.next = self.lengths.sample_flags.val();
        self.counter_select.index.next = self.index.q.val().get_bits::<4>(0);
        // The decoder's read port presents the one counter that `error_select` selects.
        self.error_index.next = self.index.q.val().get_bits::<4>(0) - self.eight4.val();
        self.error_select.next = self.error_index.val();
        self.error_reading.next = false;
        self.wide_count.value.next = self.error_count.val();
        self.wide_index.value.next = self.index.q.val();
        self.wide_address.value.next = self.address.q.val();
        self.wide_steps.value.next = self.learn_steps.q.val();
        self.steps_above.value.next = self.gather.w0.val();
        self.wide_data.value.next = self.command_data.q.val();

        // ---- Ports. ----
        self.frame_release.next = false;
        self.clear_counters.next = false;
        self.reply_send.next = false;
        // The encoder takes the opcode at `reply_send`, while the frame is still held.
        self.reply_opcode.next = self.frame_opcode.val() | self.reply_bit.val();
        if self.error_reply.q.val() {
            self.reply_opcode.next = self.opcode_error.val();
        }
        self.reply_seq.next = self.frame_seq.val();
        self.reply_length.next = self.length_out.q.val();
        self.engine_write.next = false;
        self.engine_read.next = false;
        self.engine_run.next = false;
        self.engine_learn.next = self.command_learn.q.val();
        self.engine_select.next = self.command_select.q.val();
        self.engine_address.next = self.command_address.q.val();
        self.engine_data.next = self.wide_data.result.val();
        self.engine_clear_counters.next = false;
        self.unknown_opcode.next = false;
        self.replay.next = false;
        self.emit.next = false;
        self.emit_byte.next = self.serializer.data.val();
        self.idle.next = false;

        // ---- The state machine. ----
        match self.state.q.val() {
            ExecState::Idle => {
                self.idle.next = true;
                self.ptr.load.next = true;
                self.index.load.next = true;
                self.out_address.load.next = true;
                self.caching.d.next = false;
                self.error_reply.enable.next = true;
                if self.frame_valid.val() & !self.reply_busy.val() {
                    self.cache.lookup.next = true;
                    self.state.d.next = ExecState::Lookup;
                }
            }
            ExecState::Lookup => {
                if !self.cache.busy.val() {
                    self.state.d.next = ExecState::Dispatch;
                }
            }
            ExecState::Dispatch => {
                // Flows that gather a header start at payload byte 0 and return below.
                self.gather_left.load.next = true;
                self.ret.enable.next = true;
                self.state.d.next = ExecState::GatherAddress;
                if self.frame_opcode.val() == self.opcode_identify.val() {
                    // A new session: forget the stored replies and the stream position.
                    self.cache.clear.next = true;
                    self.stream_open.d.next = false;
                    if !self.lengths.empty.val() {
                        self.detail_source.next = self.detail_zero.val();
                        self.error_now.next = true;
                        self.state.d.next = ExecState::ErrorReply;
                    } else {
                        self.state.d.next = ExecState::IdentityNext;
                    }
                } else if self.frame_opcode.val() == self.opcode_read_counters.val() {
                    if !self.lengths.empty.val() {
                        self.detail_source.next = self.detail_zero.val();
                        self.error_now.next = true;
                        self.state.d.next = ExecState::ErrorReply;
                    } else {
                        self.state.d.next = ExecState::CounterNext;
                    }
                } else if self.frame_opcode.val() == self.opcode_read_memory.val() {
                    self.ret.d.next = ExecState::MemoryCheck;
                    if !self.lengths.memory_length_ok.val() {
                        self.detail_source.next = self.detail_length_memory.val();
                        self.error_now.next = true;
                        self.state.d.next = ExecState::ErrorReply;
                    }
                } else if self.cache.hit.val()
                    & ((self.frame_opcode.val() == self.opcode_write_memory.val())
                        | (self.frame_opcode.val() == self.opcode_set_parameters.val())
                        | (self.frame_opcode.val() == self.opcode_run_sample.val())
                        | (self.frame_opcode.val() == self.opcode_queue_sample.val())
                        | (self.frame_opcode.val() == self.opcode_reset.val()))
                {
                    // A retry of a request that succeeded: send its stored reply again.
                    self.replay.next = true;
                    self.length_out.d.next = self.cache.hit_length.val();
                    self.length_out.enable.next = true;
                    self.state.d.next = ExecState::ReplayNext;
                } else if self.frame_opcode.val() == self.opcode_write_memory.val() {
                    self.ret.d.next = ExecState::MemoryCheck;
                    if self.lengths.below_memory.val() {
                        self.detail_source.next = self.detail_length_memory.val();
                        self.error_now.next = true;
                        self.state.d.next = ExecState::ErrorReply;
                    }
                } else if self.frame_opcode.val() == self.opcode_set_parameters.val() {
                    self.ptr.value.next = self.twenty_four16.val();
                    self.ptr.load.next = true;
                    self.ret.d.next = ExecState::ParameterFlags;
                    if self.lengths.below_parameters.val() {
                        self.detail_source.next = self.detail_length_parameters_fixed.val();
                        self.error_now.next = true;
                        self.state.d.next = ExecState::ErrorReply;
                    }
                } else if self.frame_opcode.val() == self.opcode_run_sample.val() {
                    self.ret.d.next = ExecState::SampleHeader;
                    if self.lengths.below_run.val() {
                        self.detail_source.next = self.detail_length_run.val();
                        self.error_now.next = true;
                        self.state.d.next = ExecState::ErrorReply;
                    }
                } else if self.frame_opcode.val() == self.opcode_queue_sample.val() {
                    self.ret.d.next = ExecState::SampleHeader;
                    if self.lengths.below_queue.val() {
                        self.detail_source.next = self.detail_length_queue.val();
                        self.error_now.next = true;
                        self.state.d.next = ExecState::ErrorReply;
                    }
                } else if self.frame_opcode.val() == self.opcode_reset.val() {
                    self.ret.d.next = ExecState::ResetCheck;
                    if !self.lengths.reset_length_ok.val() {
                        self.detail_source.next = self.detail_length_reset.val();
                        self.error_now.next = true;
                        self.state.d.next = ExecState::ErrorReply;
                    }
                } else {
                    self.unknown_opcode.next = true;
                    self.detail_source.next = self.detail_unknown_opcode.val();
                    self.error_now.next = true;
                    self.state.d.next = ExecState::ErrorReply;
                }
            }

            // ---- Subroutines. ----
            ExecState::GatherAddress => {
                self.state.d.next = ExecState::GatherByte;
            }
            ExecState::GatherByte => {
                self.gather.shift.next = true;
                self.ptr.enable.next = true;
                self.gather_left.enable.next = true;
                if self.gather_left.q.val() == self.one4.val() {
                    self.state.d.next = self.ret.q.val();
                } else {
                    self.state.d.next = ExecState::GatherAddress;
                }
            }
            ExecState::PutByte => {
                self.emit.next = true;
                self.serializer.shift.next = true;
                self.put_left.enable.next = true;
                if self.put_left.q.val() == self.one4.val() {
                    self.state.d.next = self.ret.q.val();
                }
            }
            ExecState::EngineWrite => {
                self.engine_write.next = true;
                self.state.d.next = self.ret.q.val();
            }
            ExecState::EngineRead => {
                self.engine_read.next = true;
                self.state.d.next = ExecState::EngineReadWait;
            }
            ExecState::EngineReadWait => {
                // The serializer takes the read word for the reply, or adds a saturation
                // counter to the sum it keeps.
                if self.engine_read_valid.val() {
                    if self.ret.q.val() == ExecState::SaturationNext {
                        self.serializer.accumulate.next = true;
                    } else {
                        self.serializer.load.next = true;
                    }
                    self.state.d.next = self.ret.q.val();
                }
            }
            ExecState::EngineRun => {
                self.engine_run.next = true;
                self.state.d.next = ExecState::EngineRunWait;
            }
            ExecState::EngineRunWait => {
                if !self.engine_busy.val() {
                    self.state.d.next = self.ret.q.val();
                }
            }

            // ---- Reply tail. ----
            ExecState::ErrorReply => {
                self.serializer.load.next = true;
                self.caching.d.next = false;
                self.out_address.load.next = true;
                self.put_left.value.next = self.four4.val();
                self.put_left.load.next = true;
                self.ret.d.next = ExecState::ErrorDetail;
                self.ret.enable.next = true;
                self.state.d.next = ExecState::PutByte;
            }
            ExecState::ErrorDetail => {
                // After four bytes the serializer's next four bytes are the detail, unless the
                // detail is a queue frame's length, which is summed again.
                self.state.d.next = ExecState::ErrorTail;
                if self.stored_source.q.val() == self.detail_queue_length.val() {
                    self.serializer.preset.next = true;
                    self.index.load.next = true;
                    self.ret.d.next = ExecState::ErrorTail;
                    self.ret.enable.next = true;
                    self.state.d.next = ExecState::QueueSum;
                }
            }
            ExecState::ErrorTail => {
                self.put_left.value.next = self.four4.val();
                self.put_left.load.next = true;
                self.ret.d.next = ExecState::Finish;
                self.ret.enable.next = true;
                self.state.d.next = ExecState::PutByte;
            }
            ExecState::Finish => {
                self.length_out.enable.next = true;
                self.state.d.next = ExecState::Send;
            }
            ExecState::Send => {
                if self.caching.q.val() {
                    // File the reply in the cache first, then send it.
                    self.cache.insert.next = true;
                    self.caching.d.next = false;
                    self.state.d.next = ExecState::Filing;
                } else {
                    self.reply_send.next = true;
                    self.state.d.next = ExecState::Release;
                }
            }
            ExecState::Filing => {
                if !self.cache.busy.val() {
                    self.state.d.next = ExecState::Send;
                }
            }
            ExecState::Release => {
                self.frame_release.next = true;
                self.state.d.next = ExecState::Settle;
            }
            ExecState::Settle => {
                self.state.d.next = ExecState::Idle;
            }

            // ---- Retries, identify, counters. ----
            ExecState::ReplayNext => {
                if self.index.q.val() == self.length_out.q.val() {
                    self.state.d.next = ExecState::Send;
                } else {
                    self.state.d.next = ExecState::ReplayByte;
                }
            }
            ExecState::ReplayByte => {
                self.emit.next = true;
                self.emit_byte.next = self.cache.read_byte.val();
                self.index.enable.next = true;
                self.state.d.next = ExecState::ReplayNext;
            }
            ExecState::IdentityNext => {
                if self.index.q.val() == self.identity_bytes.val() {
                    self.state.d.next = ExecState::Finish;
                } else {
                    self.state.d.next = ExecState::IdentityByte;
                }
            }
            ExecState::IdentityByte => {
                self.emit.next = true;
                self.emit_byte.next = self.identity.data.val();
                self.index.enable.next = true;
                self.state.d.next = ExecState::IdentityNext;
            }
            ExecState::CounterNext => {
                self.command_select.d.next = self.select_counter.val();
                self.command_select.enable.next = true;
                self.command_address.d.next = self.counter_select.engine_address.val();
                self.command_address.enable.next = true;
                self.ret.d.next = ExecState::CounterPut;
                self.ret.enable.next = true;
                self.error_reading.next = self.counter_select.link.val();
                if self.index.q.val() == self.counters16.val() {
                    self.state.d.next = ExecState::Finish;
                } else if self.counter_select.from_engine.val() {
                    self.state.d.next = ExecState::EngineRead;
                } else if self.counter_select.link.val() & !self.error_ready.val() {
                    // The state stays until the decoder presents the counter.
                    self.state.d.next = ExecState::CounterNext;
                } else {
                    self.serializer.load.next = self.counter_select.link.val();
                    self.serializer.clear.next = !self.counter_select.link.val();
                    self.state.d.next = ExecState::CounterPut;
                }
            }
            ExecState::CounterPut => {
                self.put_left.load.next = true;
                self.index.enable.next = true;
                self.ret.d.next = ExecState::CounterNext;
                self.ret.enable.next = true;
                self.state.d.next = ExecState::PutByte;
            }

            // ---- Read and write memory. ----
            ExecState::MemoryCheck => {
                // The low half of the offset is the first neuron's state index.
                self.address.load.next = true;
                self.error_now.next = true;
                self.state.d.next = ExecState::ErrorReply;
                self.walker.start.next = true;
                if !self.range.known.val() {
                    self.detail_source.next = self.detail_memory.val();
                } else if (self.frame_opcode.val() == self.opcode_write_memory.val())
                    & !self.lengths.write_length_ok.val()
                {
                    self.detail_source.next = self.detail_write_length.val();
                } else if !self.range.in_range.val() {
                    self.detail_source.next = self.detail_memory_size.val();
                } else if self.frame_opcode.val() == self.opcode_read_memory.val() {
                    self.error_now.next = false;
                    self.serializer.load.next = true;
                    self.put_left.load.next = true;
                    self.ret.d.next = ExecState::ReadNext;
                    self.ret.enable.next = true;
                    self.state.d.next = ExecState::PutByte;
                } else {
                    self.error_now.next = false;
                    self.ptr.value.next = self.eight16.val();
                    self.ptr.load.next = true;
                    self.state.d.next = ExecState::WriteCheckNext;
                }
            }
            ExecState::ReadNext => {
                self.command_select.d.next = self.memory_select.read_select.val();
                self.command_select.enable.next = true;
                self.command_address.d.next = self.wide_address.result.val();
                if self.memory_select.is_weights.val() {
                    self.command_address.d.next =
                        self.walker.address.val() & self.walker_address_mask.val();
                }
                if self.memory_select.is_rounding.val() {
                    self.command_address.d.next = self.memory_select.rounding_read_address.val();
                }
                self.command_address.enable.next = true;
                self.ret.d.next = ExecState::ReadPut;
                self.ret.enable.next = true;
                if self.index.q.val() == self.gather.h1.val() {
                    self.state.d.next = ExecState::Finish;
                } else if self.walker.ready.val() {
                    self.state.d.next = ExecState::EngineRead;
                }
            }
            ExecState::ReadPut => {
                self.put_left.value.next = self.four4.val();
                self.put_left.load.next = true;
                self.walker.advance.next = true;
                self.address.enable.next = true;
                self.index.enable.next = true;
                self.ret.d.next = ExecState::ReadNext;
                self.ret.enable.next = true;
                self.state.d.next = ExecState::PutByte;
            }
            ExecState::WriteCheckNext => {
                // First pass: every word must fit its format before any is written.
                self.gather_left.value.next = self.four4.val();
                self.gather_left.load.next = true;
                self.ret.d.next = ExecState::WriteCheckWord;
                self.ret.enable.next = true;
                if self.index.q.val() == self.gather.h1.val() {
                    self.ptr.value.next = self.eight16.val();
                    self.ptr.load.next = true;
                    self.index.load.next = true;
                    self.state.d.next = ExecState::WriteNext;
                } else {
                    self.state.d.next = ExecState::GatherAddress;
                }
            }
            ExecState::WriteCheckWord => {
                if self.fit.fits.val() {
                    self.index.enable.next = true;
                    self.state.d.next = ExecState::WriteCheckNext;
                } else {
                    self.detail_source.next = self.detail_index.val();
                    self.error_now.next = true;
                    self.state.d.next = ExecState::ErrorReply;
                }
            }
            ExecState::WriteNext => {
                self.gather_left.value.next = self.four4.val();
                self.gather_left.load.next = true;
                self.ret.d.next = ExecState::WriteWord;
                self.ret.enable.next = true;
                if self.index.q.val() == self.gather.h1.val() {
                    // Every word is written: gather the offset (bytes 4 to 7) again for the
                    // reply header.
                    self.ptr.value.next = self.four16.val();
                    self.ptr.load.next = true;
                    self.ret.d.next = ExecState::WriteHeader;
                    self.state.d.next = ExecState::GatherAddress;
                } else if self.walker.ready.val() {
                    self.state.d.next = ExecState::GatherAddress;
                }
            }
            ExecState::WriteHeader => {
                // Reply with the header, kept for retries.
                self.caching.d.next = true;
                self.serializer.load.next = true;
                self.put_left.load.next = true;
                self.ret.d.next = ExecState::Finish;
                self.ret.enable.next = true;
                self.state.d.next = ExecState::PutByte;
            }
            ExecState::WriteWord => {
                self.command_select.d.next = self.memory_select.write_select.val();
                self.command_select.enable.next = true;
                self.command_address.d.next = self.wide_address.result.val();
                if self.memory_select.is_weights.val() {
                    self.command_address.d.next =
                        self.walker.address.val() & self.walker_address_mask.val();
                }
                if self.memory_select.is_rounding.val() {
                    self.command_address.d.next = self.memory_select.rounding_write_address.val();
                    self.gather.operand_signed.next = false;
                }
                self.command_address.enable.next = true;
                self.command_data.enable.next = true;
                // The command registers took this word's address, so the next can advance.
                self.walker.advance.next = true;
                self.address.enable.next = true;
                self.index.enable.next = true;
                self.ret.d.next = ExecState::WriteNext;
                self.ret.enable.next = true;
                self.state.d.next = ExecState::EngineWrite;
            }

            // ---- Set parameters: layout, shifts, values, then apply. ----
            ExecState::ParameterFlags => {
                self.error_now.next = true;
                self.state.d.next = ExecState::ErrorReply;
                self.new_target.enable.next = true;
                self.new_learning.enable.next = true;
                self.ptr.load.next = true;
                self.index.load.next = true;
                self.checking_values.d.next = false;
                self.checking_values.enable.next = true;
                if !self.lengths.whole_rates_ok.val() {
                    self.detail_source.next = self.detail_whole_rates.val();
                } else if self.gather.b0.val().get_bits::<7>(1) != self.zero7.val() {
                    self.detail_source.next = self.detail_field_target.val();
                } else if self.gather.b1.val().get_bits::<7>(1) != self.zero7.val() {
                    self.detail_source.next = self.detail_field_learning.val();
                } else if !self.lengths.parameters_length_ok.val() {
                    self.detail_source.next = self.detail_length_parameters.val();
                } else {
                    self.error_now.next = false;
                    self.state.d.next = ExecState::CoefficientNext;
                }
            }
            ExecState::CoefficientNext => {
                // Two passes over the coefficients: their shifts, then their values.
                self.gather_left.value.next = self.four4.val();
                self.gather_left.load.next = true;
                self.ret.d.next = ExecState::CoefficientCheck;
                self.ret.enable.next = true;
                self.state.d.next = ExecState::GatherAddress;
                if self.index.q.val() == self.coefficients.val() {
                    if self.checking_values.q.val() {
                        // Steps per sample and settle steps: bytes 12 to 19, in one gather.
                        self.gather_left.value.next = self.eight4.val();
                        self.ptr.value.next = self.twelve16.val();
                        self.ptr.load.next = true;
                        self.ret.d.next = ExecState::StepsCheck;
                    } else {
                        self.ptr.load.next = true;
                        self.index.load.next = true;
                        self.checking_values.d.next = true;
                        self.checking_values.enable.next = true;
                        self.state.d.next = ExecState::CoefficientNext;
                    }
                }
            }
            ExecState::CoefficientCheck => {
                // The error's detail is the field number of coefficient `index`.
                self.detail_source.next = self.detail_field.val();
                if (!self.checking_values.q.val() & self.coefficient.shift_ok.val())
                    | (self.checking_values.q.val() & self.coefficient.value_ok.val())
                {
                    self.index.enable.next = true;
                    if self.index.q.val() == self.two16.val() {
                        // After β come the learning rates, at byte 28.
                        self.ptr.value.next = self.twenty_eight16.val();
                        self.ptr.load.next = true;
                    }
                    self.state.d.next = ExecState::CoefficientNext;
                } else {
                    self.error_now.next = true;
                    self.state.d.next = ExecState::ErrorReply;
                }
            }
            ExecState::StepsCheck => {
                // The last checks: steps per sample (`w0` of the gather), then settle steps
                // (`w1`). The new step counts take effect here, the rest in ApplyVoltage.
                // Settle steps are fewer than steps per sample when the difference is positive,
                // which is true once steps per sample are below 2^20. Its zero test compares the
                // gathered counts, so the difference drives only `learn_steps` and each of its
                // bits shares a logic cell with that flip-flop.
                self.ptr.load.next = true;
                self.index.load.next = true;
                self.error_now.next = true;
                self.state.d.next = ExecState::ErrorReply;
                if (self.gather.w0.val() == self.zero32.val())
                    | self.steps_above.above.val()
                {
                    self.detail_source.next = self.detail_field_steps.val();
                } else if (self.gather.w1.val().get_bits::<12>(20) != self.zero12.val())
                    | self.steps_difference.val().get_bit(20)
                    | (self.gather.w0.val().get_bits::<20>(0)
                        == self.gather.w1.val().get_bits::<20>(0))
                {
                    self.detail_source.next = self.detail_field_settle.val();
                } else {
                    self.error_now.next = false;
                    self.learn_steps.enable.next = true;
                    self.settle_steps.enable.next = true;
                    self.state.d.next = ExecState::ApplyNext;
                }
            }
            ExecState::ApplyNext => {
                self.gather_left.value.next = self.four4.val();
                self.gather_left.load.next = true;
                self.ret.d.next = ExecState::ApplyMantissa;
                self.ret.enable.next = true;
                if self.index.q.val() == self.coefficients.val() {
                    self.ptr.value.next = self.twenty16.val();
                    self.ptr.load.next = true;
                    self.ret.d.next = ExecState::ApplyRounding;
                }
                self.state.d.next = ExecState::GatherAddress;
            }
            ExecState::ApplyMantissa => {
                for i in 0..self._coefficients {
                    if self.index.q.val() == self.coefficient_index[i].val() {
                        self.command_select.d.next = self.apply_select[i].val();
                        self.command_address.d.next = self.apply_address[i].val();
                    }
                }
                self.command_select.enable.next = true;
                self.command_address.enable.next = true;
                self.gather.operand_short.next = true;
                self.gather.operand_signed.next = false;
                self.command_data.enable.next = true;
                self.ret.d.next = ExecState::ApplyShift;
                self.ret.enable.next = true;
                self.state.d.next = ExecState::EngineWrite;
            }
            ExecState::ApplyShift => {
                for i in 0..self._coefficients {
                    if self.index.q.val() == self.coefficient_index[i].val() {
                        self.command_address.d.next = self.apply_shift_address[i].val();
                    }
                }
                self.command_address.enable.next = true;
                self.gather.operand_short.next = true;
                self.gather.operand_top.next = true;
                self.gather.operand_signed.next = false;
                self.command_data.enable.next = true;
                self.index.enable.next = true;
                if self.index.q.val() == self.two16.val() {
                    self.ptr.value.next = self.twenty_eight16.val();
                    self.ptr.load.next = true;
                }
                self.ret.d.next = ExecState::ApplyNext;
                self.ret.enable.next = true;
                self.state.d.next = ExecState::EngineWrite;
            }
            ExecState::ApplyRounding => {
                // A new stochastic-rounding state of 0 keeps the current one.
                self.command_select.d.next = self.select_constant.val();
                self.command_select.enable.next = true;
                self.command_address.d.next = self.constant_rounding.val();
                self.command_address.enable.next = true;
                self.gather.operand_signed.next = false;
                self.command_data.enable.next = true;
                self.ret.d.next = ExecState::ApplyVoltage;
                self.ret.enable.next = true;
                if self.gather.w1.val() == self.zero32.val() {
                    self.state.d.next = ExecState::ApplyVoltage;
                } else {
                    self.state.d.next = ExecState::EngineWrite;
                }
            }
            ExecState::ApplyVoltage => {
                self.command_select.d.next = self.select_constant.val();
                self.command_select.enable.next = true;
                self.command_address.d.next = self.constant_voltage.val();
                self.command_address.enable.next = true;
                self.command_data.d.next = self.zero33.val();
                if self.new_target.q.val() {
                    self.wide_steps.value.next = self.one20.val();
                    self.command_data.d.next = self.wide_steps.result.val();
                }
                self.command_data.enable.next = true;
                // The last write: the target kind and the learning flag take effect too.
                self.voltage.enable.next = true;
                self.learning.enable.next = true;
                self.caching.d.next = true;
                self.ret.d.next = ExecState::Finish;
                self.ret.enable.next = true;
                self.state.d.next = ExecState::EngineWrite;
            }

            // ---- Run sample and queue samples: checks. ----
            ExecState::SampleHeader => {
                // A run frame has one sample, a queue frame the count in its header. The flags
                // and the input count are checked next clock. `address` takes the length for
                // the detail of a run frame's partial target word.
                if self.frame_opcode.val() == self.opcode_run_sample.val() {
                    self.samples.value.next = self.one16.val();
                }
                self.samples.load.next = true;
                self.address.value.next = self.frame_length.val();
                self.address.load.next = true;
                self.index.load.next = true;
                self.state.d.next = ExecState::SampleShape;
            }
            ExecState::SampleShape => {
                self.error_now.next = true;
                self.state.d.next = ExecState::ErrorReply;
                self.sample.load.next = true;
                self.address.value.next = self.zero16.val();
                self.address.load.next = true;
                self.ptr.value.next = self.four16.val();
                if self.frame_opcode.val() == self.opcode_queue_sample.val() {
                    self.ptr.value.next = self.six16.val();
                }
                self.ptr.load.next = true;
                if !self.lengths.flags_ok.val() {
                    self.detail_source.next = self.detail_byte.val();
                } else if (self.frame_opcode.val() == self.opcode_run_sample.val())
                    & self.lengths.below_inputs_end.val()
                {
                    self.detail_source.next = self.detail_inputs_end.val();
                } else if (self.frame_opcode.val() == self.opcode_run_sample.val())
                    & !self.lengths.learn.val()
                    & !self.lengths.at_inputs_end.val()
                {
                    self.detail_source.next = self.detail_inputs_end.val();
                } else if (self.frame_opcode.val() == self.opcode_run_sample.val())
                    & self.lengths.learn.val()
                    & !self.lengths.whole_targets_ok.val()
                {
                    // The detail: the length that SampleHeader put in `address`, minus the
                    // partial target word.
                    self.detail_source.next = self.detail_whole_targets.val();
                    self.address.load.next = false;
                    self.address.step.next = self.lengths.whole_targets_step.val();
                    self.address.enable.next = true;
                } else if (self.frame_opcode.val() == self.opcode_queue_sample.val())
                    & !self.lengths.start.val()
                    & (!self.stream_open.q.val()
                        | (self.stream_next.q.val() != self.frame_seq.val()))
                {
                    self.detail_source.next = self.detail_no_stream.val();
                    if self.stream_open.q.val() {
                        self.detail_source.next = self.detail_stream_next.val();
                    }
                } else if self.gather.h1.val() != self.n_inputs.val() {
                    self.detail_source.next = self.detail_inputs.val();
                } else if (self.frame_opcode.val() == self.opcode_queue_sample.val())
                    & (self.gather.h2.val() == self.zero16.val())
                {
                    self.detail_source.next = self.detail_one_sample_length.val();
                } else if self.frame_opcode.val() == self.opcode_queue_sample.val() {
                    // The frame must be `6 + samples · record` bytes long: sum it in the
                    // serializer, then check it and the rest.
                    self.error_now.next = false;
                    self.serializer.preset.next = true;
                    self.index.load.next = true;
                    self.ret.d.next = ExecState::QueueCheck;
                    self.ret.enable.next = true;
                    self.state.d.next = ExecState::QueueSum;
                } else if self.lengths.learn.val()
                    & (self.lengths.potential.val() != self.voltage.q.val())
                {
                    self.detail_source.next = self.detail_byte.val();
                } else if (self.frame_opcode.val() == self.opcode_run_sample.val())
                    & self.lengths.learn.val()
                    & !self.lengths.sample_length_ok.val()
                {
                    self.detail_source.next = self.detail_outputs.val();
                } else if self.lengths.learn.val() & self.lengths.potential.val() {
                    self.error_now.next = false;
                    self.state.d.next = ExecState::TargetSkip;
                } else {
                    self.error_now.next = false;
                    self.state.d.next = ExecState::Execute;
                }
            }
            ExecState::QueueSum => {
                if self.index.q.val() == self.lengths.record.val() {
                    self.state.d.next = self.ret.q.val();
                } else {
                    self.serializer.accumulate.next = true;
                    self.index.enable.next = true;
                }
            }
            ExecState::QueueCheck => {
                self.error_now.next = true;
                self.state.d.next = ExecState::ErrorReply;
                if !self.serializer.fits.val() {
                    self.detail_source.next = self.detail_queue_length.val();
                } else if self.lengths.too_many.val() {
                    self.detail_source.next = self.detail_limit_length.val();
                } else if self.lengths.learn.val()
                    & (self.lengths.potential.val() != self.voltage.q.val())
                {
                    // The samples of a queue frame carry the flags without the start bit.
                    self.detail_source.next = self.detail_sample_flags.val();
                } else {
                    self.error_now.next = false;
                    self.state.d.next = ExecState::Execute;
                    if self.lengths.learn.val() & self.lengths.potential.val() {
                        self.state.d.next = ExecState::TargetSkip;
                    }
                }
            }
            ExecState::TargetSkip => {
                // Potential targets must fit the potential format: check every record's
                // targets before anything runs. `address` counts the words of the frame's
                // records, the index an out-of-range error names.
                self.index.load.next = true;
                self.address.step.next = self.n_inputs.val();
                self.address.enable.next = true;
                if self.sample.q.val() == self.samples.q.val() {
                    self.ptr.value.next = self.four16.val();
                    if self.frame_opcode.val() == self.opcode_queue_sample.val() {
                        self.ptr.value.next = self.six16.val();
                    }
                    self.ptr.load.next = true;
                    self.sample.load.next = true;
                    self.state.d.next = ExecState::Execute;
                } else {
                    self.ptr.step.next = self.input_bytes.val();
                    self.ptr.enable.next = true;
                    self.state.d.next = ExecState::TargetNext;
                }
            }
            ExecState::TargetNext => {
                self.gather_left.value.next = self.four4.val();
                self.gather_left.load.next = true;
                self.ret.d.next = ExecState::TargetCheck;
                self.ret.enable.next = true;
                if self.index.q.val() == self.n_outputs.val() {
                    self.sample.enable.next = true;
                    self.state.d.next = ExecState::TargetSkip;
                } else {
                    self.state.d.next = ExecState::GatherAddress;
                }
            }
            ExecState::TargetCheck => {
                self.fit.memory.next = self.memory_potential.val();
                if self.fit.fits.val() {
                    self.index.enable.next = true;
                    self.address.enable.next = true;
                    self.state.d.next = ExecState::TargetNext;
                } else {
                    self.detail_source.next = self.detail_address.val();
                    self.error_now.next = true;
                    self.state.d.next = ExecState::ErrorReply;
                }
            }

            // ---- Samples: execution. The reply starts with 8 placeholder bytes for the
            // saturation count, which is written last. ----
            ExecState::Execute => {
                self.caching.d.next = true;
                self.serializer.clear.next = true;
                self.put_left.load.next = true;
                self.sample.load.next = true;
                self.ret.d.next = ExecState::SampleNext;
                self.ret.enable.next = true;
                self.state.d.next = ExecState::PutByte;
            }
            ExecState::SampleNext => {
                self.index.load.next = true;
                if self.sample.q.val() == self.samples.q.val() {
                    // Every sample ran: the reply's length is final, and the saturation
                    // counters are summed next.
                    self.length_out.enable.next = true;
                    self.serializer.clear.next = true;
                    self.index.value.next = self.counter_first_saturation.val();
                    self.state.d.next = ExecState::SaturationNext;
                } else {
                    self.state.d.next = ExecState::InputNext;
                }
            }
            ExecState::InputNext => {
                self.gather_left.value.next = self.two4.val();
                self.gather_left.load.next = true;
                self.ret.d.next = ExecState::InputWrite;
                self.ret.enable.next = true;
                if self.index.q.val() == self.n_inputs.val() {
                    self.index.load.next = true;
                    if self.lengths.learn.val() {
                        self.state.d.next = ExecState::TargetWriteNext;
                    } else {
                        self.state.d.next = ExecState::RunStart;
                    }
                } else {
                    self.state.d.next = ExecState::GatherAddress;
                }
            }
            ExecState::InputWrite => {
                self.command_select.d.next = self.select_input.val();
                self.command_select.enable.next = true;
                self.command_address.d.next = self.wide_index.result.val();
                self.command_address.enable.next = true;
                self.gather.operand_short.next = true;
                self.gather.operand_top.next = true;
                self.command_data.enable.next = true;
                self.index.enable.next = true;
                self.ret.d.next = ExecState::InputNext;
                self.ret.enable.next = true;
                self.state.d.next = ExecState::EngineWrite;
            }
            ExecState::TargetWriteNext => {
                self.gather_left.value.next = self.two4.val();
                if self.lengths.potential.val() {
                    self.gather_left.value.next = self.four4.val();
                }
                self.gather_left.load.next = true;
                self.ret.d.next = ExecState::TargetWrite;
                self.ret.enable.next = true;
                if self.index.q.val() == self.n_outputs.val() {
                    self.state.d.next = ExecState::RunStart;
                } else {
                    self.state.d.next = ExecState::GatherAddress;
                }
            }
            ExecState::TargetWrite => {
                self.command_select.d.next = self.select_target.val();
                self.command_select.enable.next = true;
                self.command_address.d.next = self.wide_index.result.val();
                self.command_address.enable.next = true;
                // A potential target is 32 bits wide, the others 16.
                self.gather.operand_short.next = !self.lengths.potential.val();
                self.gather.operand_top.next = true;
                self.command_data.enable.next = true;
                self.index.enable.next = true;
                self.ret.d.next = ExecState::TargetWriteNext;
                self.ret.enable.next = true;
                self.state.d.next = ExecState::EngineWrite;
            }
            ExecState::RunStart => {
                // The settle steps without nudging, then the rest: with the learn flag and
                // learning on, with nudging and weight updates, otherwise frozen. A run of 0
                // steps is skipped.
                self.command_learn.d.next = false;
                self.command_learn.enable.next = true;
                self.ret.d.next = ExecState::RunLearn;
                self.ret.enable.next = true;
                self.state.d.next = ExecState::EngineRun;
                if self.settle_steps.q.val() == self.zero20.val() {
                    self.state.d.next = ExecState::RunLearn;
                }
                self.wide_steps.value.next = self.settle_steps.q.val();
                self.command_data.d.next = self.wide_steps.result.val();
                self.command_data.enable.next = true;
            }
            ExecState::RunLearn => {
                self.command_learn.d.next = self.lengths.learn.val() & self.learning.q.val();
                self.command_learn.enable.next = true;
                self.command_data.d.next = self.wide_steps.result.val();
                self.command_data.enable.next = true;
                // The output loop's first output, which the run leaves unchanged.
                self.index.load.next = true;
                self.address.value.next = self.output_base.val();
                self.address.load.next = true;
                self.ret.d.next = ExecState::OutputNext;
                self.ret.enable.next = true;
                self.state.d.next = ExecState::EngineRun;
            }
            ExecState::OutputNext => {
                self.command_select.d.next = self.select_rate.val();
                self.command_select.enable.next = true;
                self.command_address.d.next = self.wide_address.result.val();
                self.command_address.enable.next = true;
                self.ret.d.next = ExecState::OutputPut;
                self.ret.enable.next = true;
                if self.index.q.val() == self.n_outputs.val() {
                    self.sample.enable.next = true;
                    self.state.d.next = ExecState::SampleNext;
                } else {
                    self.state.d.next = ExecState::EngineRead;
                }
            }
            ExecState::OutputPut => {
                self.put_left.value.next = self.two4.val();
                self.put_left.load.next = true;
                self.index.enable.next = true;
                self.address.enable.next = true;
                self.ret.d.next = ExecState::OutputNext;
                self.ret.enable.next = true;
                self.state.d.next = ExecState::PutByte;
            }
            ExecState::SaturationNext => {
                // Sum the five engine saturation counters (potential to weight): the index is
                // the counter's engine address.
                self.command_select.d.next = self.select_counter.val();
                self.command_select.enable.next = true;
                self.command_address.d.next = self.wide_index.result.val();
                self.command_address.enable.next = true;
                self.ret.d.next = ExecState::SaturationNext;
                self.ret.enable.next = true;
                if self.index.q.val() == self.saturation_end.val() {
                    self.state.d.next = ExecState::SaturationPut;
                } else {
                    // The command registers took this counter's address.
                    self.index.enable.next = true;
                    self.state.d.next = ExecState::EngineRead;
                }
            }
            ExecState::SaturationPut => {
                self.out_address.load.next = true;
                self.put_left.load.next = true;
                if self.frame_opcode.val() == self.opcode_queue_sample.val() {
                    self.stream_open.d.next = true;
                    self.stream_next.enable.next = true;
                }
                self.ret.d.next = ExecState::Send;
                self.ret.enable.next = true;
                self.state.d.next = ExecState::PutByte;
            }

            // ---- Reset. ----
            ExecState::ResetCheck => {
                self.detail_source.next = self.detail_byte.val();
                self.select_code.load.next = true;
                self.address.value.next = self.zero16.val();
                self.address.load.next = true;
                if self.gather.b0.val().get_bits::<6>(2) != self.detail_zero.val() {
                    self.error_now.next = true;
                    self.state.d.next = ExecState::ErrorReply;
                } else if (self.gather.b0.val() == self.reset_neurons.val())
                    | (self.gather.b0.val() == self.reset_both.val())
                {
                    self.state.d.next = ExecState::ResetWrite;
                } else {
                    self.state.d.next = ExecState::ResetCounters;
                }
            }
            ExecState::ResetWrite => {
                // Zero u, ŭ, e, r and d (select codes potential to slope) of every neuron.
                self.command_select.d.next = self.select_code.q.val();
                self.command_select.enable.next = true;
                self.command_address.d.next = self.wide_address.result.val();
                self.command_address.enable.next = true;
                self.command_data.d.next = self.zero33.val();
                self.command_data.enable.next = true;
                self.ret.d.next = ExecState::ResetAdvance;
                self.ret.enable.next = true;
                self.state.d.next = ExecState::EngineWrite;
            }
            ExecState::ResetAdvance => {
                self.state.d.next = ExecState::ResetWrite;
                if self.address.q.val() == self.neurons_last.val() {
                    self.address.value.next = self.zero16.val();
                    self.address.load.next = true;
                    self.select_code.enable.next = true;
                    if self.select_code.q.val() == self.select_last_state.val() {
                        self.state.d.next = ExecState::ResetCounters;
                    }
                } else {
                    self.address.enable.next = true;
                }
            }
            ExecState::ResetCounters => {
                if (self.gather.b0.val() == self.reset_counters.val())
                    | (self.gather.b0.val() == self.reset_both.val())
                {
                    self.engine_clear_counters.next = true;
                    self.clear_counters.next = true;
                }
                self.caching.d.next = true;
                self.state.d.next = ExecState::Finish;
            }
            _ => {
                self.state.d.next = ExecState::Idle;
            }
        }

        // ---- Error replies: the state that finds the error stores its source, which gives
        // the error code and the detail, and ErrorReply loads the serializer with the error
        // payload and writes it. The detail's sources keep their values until then. ----
        self.stored_source.d.next = self.detail_source.val();
        self.stored_source.enable.next = self.error_now.val();
        if self.error_now.val() {
            self.error_reply.d.next = true;
            self.error_reply.enable.next = true;
        }
        self.error_detail.source.next = self.stored_source.q.val();
        self.wide_samples.value.next = self.gather.h2.val();
        self.words.code.next = self.error_detail.code.val();
        self.words.detail.next = self.error_detail.detail.val();

        // ---- The serializer's value, selected by the request rather than by each state that
        // loads it. Every state that finds an error goes to ErrorReply, so `error_reply` is
        // set before the error payload loads. Only the counters reply loads a link counter.
        // The state selects only the engine's read data and the queue sum's addend. ----
        self.serializer.value.next = self.words.header.val();
        if self.frame_opcode.val() == self.opcode_read_counters.val() {
            self.serializer.value.next = self.wide_count.result.val();
        }
        if self.error_reply.q.val() {
            self.serializer.value.next = self.words.error.val();
        }
        if self.state.q.val() == ExecState::QueueSum {
            self.serializer.value.next = self.wide_samples.result.val();
        }
        if self.state.q.val() == ExecState::EngineReadWait {
            self.serializer.value.next = self.engine_read_data.val();
        }

        // ---- Reply bytes: into the encoder's buffer and, while caching, the cache slot. ----
        self.reply_write.next = self.emit.val();
        self.reply_address.next = self.out_address.q.val();
        self.reply_byte.next = self.emit_byte.val();
        self.cache.write.next = self.emit.val() & self.caching.q.val();
        self.cache.write_address.next =
            self.cache.head_base.val() | (self.out_address.q.val() & self.slot_offset_mask.val());
        self.cache.write_byte.next = self.emit_byte.val();
        if self.emit.val() {
            self.out_address.enable.next = true;
        }
    }
}
