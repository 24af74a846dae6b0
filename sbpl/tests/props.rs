//! The reader and evaluator on arbitrary text: never a panic, and every
//! error points inside the input (or at libsandbox's prelude, for an
//! `import` that fails).

use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]
    #[test]
    fn arbitrary_text_never_panics(src in "[ -~\n]{0,200}") {
        match sbpl::evaluate(&src, "f.sb", &sbpl::Options::default()) {
            Ok(p) => { let _ = sbpl::plan(&p); }
            Err(e) if e.file == sbpl::error::PRELUDE => {
                prop_assert_eq!(e.pos, sbpl::error::IMPORT_POS);
            }
            Err(e) => {
                let lines = src.split('\n').count() as u32;
                prop_assert!(e.pos.line >= 1 && e.pos.line <= lines.max(1), "{} for {:?}", e, src);
            }
        }
    }

    #[test]
    fn sbpl_shaped_text_never_panics(parts in prop::collection::vec(prop::sample::select(vec![
        "(", ")", "allow", "deny", "default", "file-read*", "(subpath \"/a\")", "(literal \"/b\")",
        "(regex #\"^/c\")", "(param \"X\")", "(if", "(begin", "(define", "Y", "\"s\"", "#t", "#f",
        "(with no-log)", "(string-append", "(version 1)", "(import \"nope.sb\")", ";c\n", " ",
    ]), 0..40)) {
        let src: String = parts.concat();
        let _ = sbpl::evaluate(&src, "f.sb", &sbpl::Options::default()).map(|p| sbpl::plan(&p));
    }
}
