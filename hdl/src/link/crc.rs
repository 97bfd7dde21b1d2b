//! CRC-32/ISO-HDLC, one byte per clock, with the parameters of `leap_model::protocol::crc`.

use leap_model::protocol::{CRC_INIT, CRC_POLYNOMIAL, CRC_REFLECTED, CRC_XOR_OUT};
use rust_hdl::prelude::*;

use crate::leaf::Register;

const _: () = assert!(
    CRC_REFLECTED,
    "CrcStep implements the reflected (LSB-first) CRC only"
);
const _: () = assert!(
    CRC_XOR_OUT == u32::MAX,
    "Crc32 complements the register to send the CRC, so the final XOR must be all ones"
);

/// Returns the register change that each bit of `register ^ byte` causes in one byte step of
/// the reflected CRC: entry `b` is the byte-wise table entry of `1 << b`. The step is linear, so
/// the table entry of any byte is the XOR of the entries of its set bits.
pub fn step_columns() -> [u32; 8] {
    let reflected = CRC_POLYNOMIAL.reverse_bits();
    let mut columns = [0u32; 8];
    for (bit, column) in columns.iter_mut().enumerate() {
        let mut register = 1u32 << bit;
        for _ in 0..8 {
            register = if register & 1 == 1 {
                (register >> 1) ^ reflected
            } else {
                register >> 1
            };
        }
        *column = register;
    }
    columns
}

/// Returns the value of `register[7:0] ^ byte` in each byte step that feeds a correct CRC field
/// after the bytes it covers, field byte 0 first. A receiver that feeds the field to the CRC
/// checks each byte by comparing that mix with its constant here, without selecting bytes of
/// the CRC. The mixes do not depend on the bytes covered: feeding a byte `b` of the field
/// mixes it with a register byte that differs from `b` by a constant.
pub fn check_mixes() -> [u8; 4] {
    let columns = step_columns();
    let mut register = CRC_INIT;
    let field = register ^ CRC_XOR_OUT;
    let mut mixes = [0u8; 4];
    for (index, mix) in mixes.iter_mut().enumerate() {
        let byte = (field >> (8 * index)) as u8;
        *mix = register as u8 ^ byte;
        register = byte_step(&columns, register, byte);
    }
    mixes
}

/// Returns the register after one byte step of the reflected CRC with the columns of
/// [`step_columns`].
fn byte_step(columns: &[u32; 8], register: u32, byte: u8) -> u32 {
    let mixed = (register ^ byte as u32) & 0xFF;
    let mut next = register >> 8;
    for (bit, column) in columns.iter().enumerate() {
        if mixed >> bit & 1 == 1 {
            next ^= column;
        }
    }
    next
}

/// One byte of the reflected CRC, combinational: `result = (register >> 8) ^ table[(register ^ byte) & 0xFF]`.
#[derive(LogicBlock)]
pub struct CrcStep {
    pub register: Signal<In, Bits<32>>,
    pub byte: Signal<In, Bits<8>>,
    pub result: Signal<Out, Bits<32>>,
    _columns: [u32; 8],
}

impl Default for CrcStep {
    fn default() -> Self {
        CrcStep {
            register: Default::default(),
            byte: Default::default(),
            result: Default::default(),
            _columns: step_columns(),
        }
    }
}

impl Logic for CrcStep {
    fn update(&mut self) {
        let register = self.register.val().to_u64() as u32;
        let mixed = (register ^ self.byte.val().to_u64() as u32) & 0xFF;
        let mut next = register >> 8;
        for (bit, column) in self._columns.iter().enumerate() {
            if mixed >> bit & 1 == 1 {
                next ^= column;
            }
        }
        self.result.next = (next as u64).to_bits();
    }
    fn connect(&mut self) {
        self.result.connect();
    }
    fn hdl(&self) -> Verilog {
        let terms: Vec<String> = self
            ._columns
            .iter()
            .enumerate()
            .map(|(bit, column)| format!("({{32{{mixed[{bit}]}}}} & 32'h{column:08x})"))
            .collect();
        Verilog::Custom(format!(
            "wire [7:0] mixed = register[7:0] ^ byte;\n\
             always @(*) result = {{8'h00, register[31:8]}} ^ {};\n",
            terms.join(" ^ ")
        ))
    }
}

/// An incremental CRC-32/ISO-HDLC over a byte stream, one byte per clock.
///
/// `start` loads the initial value; otherwise `enable` feeds `byte`. The register holds the CRC
/// of the bytes fed since the last `start` before the final XOR, from the clock after the last
/// byte. `register_low` is `register[7:0]`: XORed with a received byte it gives the mix of that
/// byte's step, which a receiver compares with [`check_mixes`], and its complement is the CRC's
/// low byte (the final XOR is all ones). Each `shift` (never with `enable`) moves the register
/// down one byte, so a sender reads the CRC's four bytes in wire order. The shift is the byte step fed with
/// `register[7:0]`, which mixes to zero. The register has no reset because every use begins
/// with `start`.
#[derive(LogicBlock)]
pub struct Crc32 {
    pub clock: Signal<In, Clock>,
    pub start: Signal<In, Bit>,
    pub enable: Signal<In, Bit>,
    pub shift: Signal<In, Bit>,
    pub byte: Signal<In, Bits<8>>,
    pub register_low: Signal<Out, Bits<8>>,
    register: Register<Bits<32>>,
    step: CrcStep,
    init: Constant<Bits<32>>,
}

impl Default for Crc32 {
    fn default() -> Self {
        Crc32 {
            clock: Default::default(),
            start: Default::default(),
            enable: Default::default(),
            shift: Default::default(),
            byte: Default::default(),
            register_low: Default::default(),
            register: Default::default(),
            step: Default::default(),
            init: Constant::new((CRC_INIT as u64).to_bits()),
        }
    }
}

impl Logic for Crc32 {
    #[hdl_gen]
    fn update(&mut self) {
        self.register.clock.next = self.clock.val();
        self.step.register.next = self.register.q.val();
        self.step.byte.next = self.byte.val();
        if self.shift.val() {
            self.step.byte.next = self.register.q.val().get_bits::<8>(0);
        }

        self.register.d.next = self.register.q.val();
        if self.enable.val() | self.shift.val() {
            self.register.d.next = self.step.result.val();
        }
        if self.start.val() {
            self.register.d.next = self.init.val();
        }

        self.register_low.next = self.register.q.val().get_bits::<8>(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use leap_model::protocol::crc32;

    /// The linear step with the computed columns equals the table-driven CRC of leap-model.
    #[test]
    fn step_columns_reproduce_crc32() {
        let columns = step_columns();
        let step = |register: u32, byte: u8| byte_step(&columns, register, byte);
        for text in [&b"123456789"[..], b"", &[0u8; 7], &[0xA5, 0x01, 0x00, 0x00]] {
            let register = text.iter().fold(CRC_INIT, |r, &b| step(r, b));
            assert_eq!(register ^ CRC_XOR_OUT, crc32(text), "{text:?}");
        }
    }

    /// Feeding a correct CRC field after any bytes gives the mixes of `check_mixes` and leaves
    /// the register at the CRC-32 residue `0xDEBB20E3`.
    #[test]
    fn check_mixes_hold_for_any_frame() {
        let columns = step_columns();
        let mixes = check_mixes();
        assert_eq!(mixes, [0xFF, 0x72, 0x00, 0xED], "mixes of CRC-32/ISO-HDLC");
        for text in [&b"123456789"[..], b"", &[0u8; 7], &[0xA5, 0x01, 0x00, 0x00, 0xFF]] {
            let field = crc32(text).to_le_bytes();
            let mut register = text
                .iter()
                .fold(CRC_INIT, |r, &b| byte_step(&columns, r, b));
            for (index, &byte) in field.iter().enumerate() {
                assert_eq!(register as u8 ^ byte, mixes[index], "{text:?}: field byte {index}");
                register = byte_step(&columns, register, byte);
            }
            assert_eq!(register, 0xDEBB_20E3, "{text:?}: register after the field");
        }
    }
}
