//! `syscall-triage run --` on a live Darling: `ps aux` makes Darling print
//! "Unimplemented syscall (539)" (task_read_for_pid) once per process.

use std::process::Command;

use e2e::live::LivePrefix;
use e2e::Out;

fn triage(p: &LivePrefix, args: &[&str], name: &str) -> Out {
    let mut c = Command::new(env!("CARGO_BIN_EXE_syscall-triage"));
    c.args(args)
        .arg("--prefix")
        .arg(p.prefix())
        .arg("--")
        .args(["/bin/ps", "aux"]);
    p.run_host(c, name)
}

#[test]
fn run_triages_live_darling_noise() {
    let Some(p) = LivePrefix::new("syscall-triage") else {
        return;
    };
    let o = triage(&p, &["run"], "md");
    assert_eq!(o.code, 0, "{o:?}");
    assert!(
        o.stdout.contains("in run: /bin/ps aux.")
            && o.stdout
                .contains("| task_read_for_pid (539) | BSD syscall | processes and threads |"),
        "{}",
        o.stdout
    );
    let o = triage(&p, &["--json", "run"], "json");
    assert_eq!(o.code, 0, "{o:?}");
    let v: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(v["version"], 1);
    assert_eq!(v["sources"], serde_json::json!(["run: /bin/ps aux"]));
    let e = v["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["number"] == 539)
        .unwrap_or_else(|| panic!("no 539 in {}", o.stdout));
    assert_eq!(
        (&e["kind"], &e["name"], &e["category"]),
        (
            &serde_json::json!("bsd"),
            &serde_json::json!("task_read_for_pid"),
            &serde_json::json!("processes and threads")
        )
    );
    assert!(e["count"].as_u64().unwrap() >= 1);
    assert_eq!(
        v["total"].as_u64(),
        Some(
            v["entries"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["count"].as_u64().unwrap())
                .sum()
        )
    );
}
