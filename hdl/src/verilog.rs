//! Text generators for the arithmetic that the hand-written leaf blocks share.
//!
//! Each generator writes Verilog-2005 that Verilator lints clean of WIDTH warnings: operands are
//! widened by explicit concatenation before `+` and `-`, every intermediate is a named `signed`
//! wire of a stated width, and right shifts of signed values use `>>>`.

/// Formats `value` as a signed Verilog literal of `width` bits in two's complement.
pub fn literal(value: i128, width: usize) -> String {
    assert!(
        (1..=127).contains(&width),
        "literal width {width} is outside 1..=127"
    );
    let mask = (1u128 << width) - 1;
    format!("{width}'sh{:x}", (value as u128) & mask)
}

/// Returns an expression that sign-extends or truncates the signed `width`-bit wire `source` to `out_width`
/// bits. Truncation is only used where the value is known to fit.
pub fn fit(source: &str, width: usize, out_width: usize) -> String {
    if width >= out_width {
        format!("{source}[{}:0]", out_width - 1)
    } else {
        format!(
            "{{{{{}{{{source}[{}]}}}}, {source}}}",
            out_width - width,
            width - 1
        )
    }
}

/// Returns an expression that sign-extends the signed `width`-bit wire `source` by `extra` bits.
pub fn extend(source: &str, width: usize, extra: usize) -> String {
    if extra == 0 {
        source.to_string()
    } else {
        format!("{{{{{extra}{{{source}[{}]}}}}, {source}}}", width - 1)
    }
}

/// Declares `name` as `source` moved right by `shift` bits, rounding half up
/// (`(x + 2^(shift-1)) >>> shift`), or left by `-shift` bits, which is exact. Returns the
/// declarations and the width of `name`.
pub fn round_shift(source: &str, width: usize, shift: i32, name: &str) -> (String, usize) {
    if shift > 0 {
        let shift = shift as usize;
        assert!(
            shift <= width,
            "a rounding shift of {shift} bits exceeds the {width}-bit operand"
        );
        // One extra bit keeps `x + 2^(shift-1)` exact.
        let wide = width + 1;
        let text = format!(
            "wire signed [{top}:0] {name}_wide = {widened};\n\
             wire signed [{top}:0] {name}_biased = {name}_wide + {half};\n\
             wire signed [{top}:0] {name} = {name}_biased >>> {shift};\n",
            top = wide - 1,
            widened = extend(source, width, 1),
            half = literal(1i128 << (shift - 1), wide),
        );
        (text, wide)
    } else if shift < 0 {
        let left = (-shift) as usize;
        let wide = width + left;
        (
            format!(
                "wire signed [{}:0] {name} = {{{source}, {left}'b0}};\n",
                wide - 1
            ),
            wide,
        )
    } else {
        (
            format!("wire signed [{}:0] {name} = {source};\n", width - 1),
            width,
        )
    }
}

/// Writes an `always @(*)` block that clamps the signed `width`-bit wire `source` to the range of a
/// `bits`-bit word, assigns it to the `out_width`-bit register `target` and sets the 1-bit
/// register `flag` when it had to clamp.
pub fn saturate(
    source: &str,
    width: usize,
    bits: usize,
    target: &str,
    out_width: usize,
    flag: &str,
) -> String {
    assert!(
        bits <= out_width,
        "a {bits}-bit format does not fit the {out_width}-bit port {target}"
    );
    if bits >= width {
        return format!(
            "always @(*) begin\n   {target} = {};\n   {flag} = 1'b0;\nend\n",
            fit(source, width, out_width)
        );
    }
    // The word fits when its bits from `bits - 1` up all equal the sign. Testing that takes a
    // few LUTs, where comparing with the range's ends takes two carry chains of the full width.
    // Every bit of `target` from `bits - 1` up then repeats the same bit, so synthesis forms
    // it once.
    let value = if bits < out_width {
        format!(
            "{{{{{}{{{source}[{top}]}}}}, {source}[{top}:0]}}",
            out_width - bits,
            top = bits - 1
        )
    } else {
        fit(source, width, out_width)
    };
    let max = (1i128 << (bits - 1)) - 1;
    let min = -(1i128 << (bits - 1));
    let top = format!("{source}[{}:{}]", width - 1, bits - 1);
    format!(
        "always @(*) begin\n\
         \x20  if ((&{top}) || !(|{top})) begin\n\
         \x20     {target} = {value};\n\
         \x20     {flag} = 1'b0;\n\
         \x20  end else if (!{source}[{sign}]) begin\n\
         \x20     {target} = {max_out};\n\
         \x20     {flag} = 1'b1;\n\
         \x20  end else begin\n\
         \x20     {target} = {min_out};\n\
         \x20     {flag} = 1'b1;\n\
         \x20  end\n\
         end\n",
        sign = width - 1,
        max_out = literal(max, out_width),
        min_out = literal(min, out_width),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_wraps_negative_values() {
        assert_eq!(literal(-1, 8), "8'shff");
        assert_eq!(literal(-32768, 16), "16'sh8000");
        assert_eq!(literal(5, 34), "34'sh5");
    }

    #[test]
    fn fit_extends_and_slices() {
        assert_eq!(fit("x", 16, 32), "{{16{x[15]}}, x}");
        assert_eq!(fit("x", 34, 32), "x[31:0]");
    }
}
