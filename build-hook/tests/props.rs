//! Property tests of the readers that face untrusted bytes: the protocol
//! reader, the .drv parser and the reference scanner.

use build_hook::drv::{self, Derivation, Output};
use build_hook::protocol::{self, Request, Settings, TryRequest};
use build_hook::refs::RefScanner;
use build_hook::wire::{WireReader, WireWriter};
use proptest::prelude::*;

fn arb_try() -> impl Strategy<Value = TryRequest> {
    (
        any::<bool>(),
        "[a-z0-9_-]{0,20}",
        "/nix/store/[a-z0-9]{32}-[a-z.-]{1,20}",
        prop::collection::vec("[a-z-]{1,12}", 0..4),
    )
        .prop_map(
            |(am_willing, system, drv_path, required_features)| TryRequest {
                am_willing,
                system,
                drv_path,
                required_features,
            },
        )
}

fn arb_settings() -> impl Strategy<Value = Settings> {
    prop::collection::vec(
        ("[a-z-]{1,24}", prop::collection::vec(any::<u8>(), 0..40)),
        0..12,
    )
    .prop_map(Settings::from_pairs)
}

/// Reads a whole conversation; errors are fine, panics and loops are not.
fn read_all(bytes: &[u8]) -> Result<(Settings, Vec<TryRequest>), String> {
    let mut r = WireReader::new(bytes);
    let s = protocol::read_settings(&mut r).map_err(|e| e.to_string())?;
    let mut tries = Vec::new();
    loop {
        match protocol::read_request(&mut r).map_err(|e| e.to_string())? {
            Request::End => return Ok((s, tries)),
            Request::Try(t) => tries.push(t),
        }
    }
}

fn encode(s: &Settings, tries: &[TryRequest]) -> Vec<u8> {
    let mut w = WireWriter::new();
    s.encode(&mut w);
    for t in tries {
        t.encode(&mut w);
    }
    w.buf
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn conversations_round_trip(s in arb_settings(), tries in prop::collection::vec(arb_try(), 0..6)) {
        let bytes = encode(&s, &tries);
        let (s2, t2) = read_all(&bytes).unwrap();
        prop_assert_eq!(s2, s);
        prop_assert_eq!(t2, tries);
    }

    #[test]
    fn every_cut_inside_a_value_is_an_error(s in arb_settings(), tries in prop::collection::vec(arb_try(), 1..3), frac in 0.0f64..1.0) {
        let bytes = encode(&s, &tries);
        let cut = ((bytes.len() as f64) * frac) as usize;
        // Clean ends are only at the start and between requests.
        let mut boundaries = vec![0];
        let mut w = WireWriter::new();
        s.encode(&mut w);
        boundaries.push(w.buf.len());
        for t in &tries {
            t.encode(&mut w);
            boundaries.push(w.buf.len());
        }
        let r = read_all(&bytes[..cut]);
        if boundaries.contains(&cut) {
            prop_assert!(r.is_ok(), "cut {} at a boundary: {:?}", cut, r);
        } else {
            prop_assert!(r.is_err(), "cut {} inside a value was accepted", cut);
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = read_all(&bytes);
        let _ = drv::parse(&bytes);
    }

    #[test]
    fn mutated_streams_never_panic(s in arb_settings(), tries in prop::collection::vec(arb_try(), 1..3), pos in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let mut bytes = encode(&s, &tries);
        let i = pos.index(bytes.len());
        bytes[i] = byte;
        let _ = read_all(&bytes);
    }

    /// Random bytes stop at `Derive(`; a real derivation with one byte
    /// changed, or cut anywhere, reaches every part of the parser.
    #[test]
    fn mutated_derivations_never_panic(d in arb_drv(), pos in any::<prop::sample::Index>(), byte in any::<u8>(), cut in any::<prop::sample::Index>()) {
        let mut text = print_aterm(&d).into_bytes();
        let i = pos.index(text.len());
        text[i] = byte;
        let _ = drv::parse(&text);
        let _ = drv::parse(&text[..cut.index(text.len())]);
    }

    #[test]
    fn derivations_round_trip_through_aterm(d in arb_drv()) {
        let text = print_aterm(&d);
        prop_assert_eq!(drv::parse(text.as_bytes()).unwrap(), d.clone());
        // Any strict prefix is rejected.
        let cut = text.len() / 2;
        prop_assert!(drv::parse(&text.as_bytes()[..cut]).is_err());
    }

    #[test]
    fn scanner_matches_a_naive_search(noise in prop::collection::vec(prop::sample::select(b"0123456789abcdfghijklmnpqrsvwxyz-/ e".to_vec()), 0..300),
                                      inserts in prop::collection::vec((any::<prop::sample::Index>(), 0usize..3), 0..4),
                                      chunk in 1usize..64) {
        let paths = [
            "/nix/store/0123456789abcdfghijklmnpqrsvwxyz-a",
            "/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-b",
            "/nix/store/zyxwvsrqpnmlkjihgfdcba9876543210-c",
        ];
        let mut data = noise.clone();
        for (at, which) in &inserts {
            let i = at.index(data.len() + 1);
            let h = &paths[*which][11..43];
            data.splice(i..i, h.bytes());
        }
        let naive: std::collections::BTreeSet<String> = paths
            .iter()
            .filter(|p| data.windows(32).any(|w| w == &p.as_bytes()[11..43]))
            .map(|p| p.to_string())
            .collect();
        let mut s = RefScanner::new(paths);
        for c in data.chunks(chunk) {
            s.feed(c);
        }
        prop_assert_eq!(s.into_found(), naive);
    }
}

fn arb_text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop::sample::select(vec![
            'a', 'Z', '0', ' ', '"', '\\', '\n', '\t', '\r', '$', '(', ')', ',', '[', ']', 'é',
        ]),
        0..16,
    )
    .prop_map(|v| v.into_iter().collect())
}

fn arb_drv() -> impl Strategy<Value = Derivation> {
    (
        prop::collection::vec(("[a-z]{1,6}", "/nix/store/[a-z0-9]{32}-[a-z]{1,6}"), 1..3),
        prop::collection::vec(
            (
                "/nix/store/[a-z0-9]{32}-[a-z]{1,6}\\.drv",
                prop::collection::vec("[a-z]{1,4}", 1..3),
            ),
            0..3,
        ),
        prop::collection::vec("/nix/store/[a-z0-9]{32}-[a-z]{1,6}", 0..3),
        arb_text(),
        prop::collection::vec(arb_text(), 0..4),
        prop::collection::btree_map("[a-zA-Z_]{1,8}", arb_text(), 0..6),
    )
        .prop_map(
            |(outs, input_drvs, input_srcs, builder, args, env)| Derivation {
                outputs: outs
                    .into_iter()
                    .map(|(name, path)| Output {
                        name,
                        path,
                        hash_algo: String::new(),
                        hash: String::new(),
                    })
                    .collect(),
                input_drvs,
                input_srcs,
                system: "x86_64-darwin".into(),
                builder,
                args,
                env,
            },
        )
}

/// An ATerm printer written for the test, escaping as Nix does.
fn print_aterm(d: &Derivation) -> String {
    fn q(s: &str) -> String {
        let mut o = String::from("\"");
        for c in s.chars() {
            match c {
                '"' => o.push_str("\\\""),
                '\\' => o.push_str("\\\\"),
                '\n' => o.push_str("\\n"),
                '\r' => o.push_str("\\r"),
                '\t' => o.push_str("\\t"),
                c => o.push(c),
            }
        }
        o.push('"');
        o
    }
    fn list(items: Vec<String>) -> String {
        format!("[{}]", items.join(","))
    }
    format!(
        "Derive({},{},{},{},{},{},{})",
        list(
            d.outputs
                .iter()
                .map(|o| format!(
                    "({},{},{},{})",
                    q(&o.name),
                    q(&o.path),
                    q(&o.hash_algo),
                    q(&o.hash)
                ))
                .collect()
        ),
        list(
            d.input_drvs
                .iter()
                .map(|(p, o)| format!("({},{})", q(p), list(o.iter().map(|x| q(x)).collect())))
                .collect()
        ),
        list(d.input_srcs.iter().map(|s| q(s)).collect()),
        q(&d.system),
        q(&d.builder),
        list(d.args.iter().map(|s| q(s)).collect()),
        list(
            d.env
                .iter()
                .map(|(k, v)| format!("({},{})", q(k), q(v)))
                .collect()
        ),
    )
}
