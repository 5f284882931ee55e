//! A template that does not parse is a compile error at the right span, with a message
//! that says what to write (each case's expected error is in `tests/ui/*.stderr`).

#[test]
fn bad_templates_fail_to_compile_with_a_clear_message() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/*.rs");
}
