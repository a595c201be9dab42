//! SoftHSM's token files: an interrupted rewrite of `token.object` is
//! repaired from the copy taken before the last login, and a token that
//! cannot be found is explained (issue 19, token safety).

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashSet;
use std::path::PathBuf;

use hsm::softhsm::{explain_missing, safeguard_tokens, TokenDirLock};
use hsm::{HsmError, TokenLabel};

fn token_dirs() -> HashSet<PathBuf> {
    std::fs::read_dir(common::softhsm().token_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect()
}

#[test]
fn a_torn_token_object_is_restored_and_an_unrepairable_one_explained() {
    let before = token_dirs();
    let _pool = common::pool("torn", 1);
    let dir = token_dirs().difference(&before).next().cloned().unwrap();
    let tokens = common::softhsm().token_dir().to_owned();
    let object = dir.join("token.object");
    let whole = std::fs::read(&object).unwrap();

    // The copy is taken while the file is whole; nothing to repair.
    assert!(safeguard_tokens(&tokens).unwrap().is_empty());
    assert_eq!(std::fs::read(dir.join("token.object.bak")).unwrap(), whole);
    // A kill -9 during SoftHSM's rewrite leaves it empty or cut short.
    for torn in [&whole[..0], &whole[..whole.len() / 2]] {
        std::fs::write(&object, torn).unwrap();
        let repaired = safeguard_tokens(&tokens).unwrap();
        assert_eq!(repaired.len(), 1, "{repaired:?}");
        assert!(repaired[0].contains("interrupted write"), "{}", repaired[0]);
        assert_eq!(std::fs::read(&object).unwrap(), whole);
    }

    // Without a copy, an empty file is named, not "no token labelled".
    std::fs::remove_file(dir.join("token.object.bak")).unwrap();
    std::fs::write(&object, b"").unwrap();
    let err = explain_missing(
        common::softhsm().hsm(),
        &tokens,
        &TokenLabel::new("torn").unwrap(),
    );
    assert!(matches!(err, HsmError::SoftHsmToken { .. }));
    let text = err.to_string();
    assert!(
        text.contains("token.object is empty") && text.contains("backup"),
        "{text}"
    );
    std::fs::write(&object, &whole).unwrap();
    // A label that is simply not there: the labels present are listed.
    let text = explain_missing(
        common::softhsm().hsm(),
        &tokens,
        &TokenLabel::new("no-such-token").unwrap(),
    )
    .to_string();
    assert!(
        text.contains("tokens present:") && text.contains("torn"),
        "{text}"
    );
    // A missing directory says so.
    let text = explain_missing(
        common::softhsm().hsm(),
        &tokens.join("missing"),
        &TokenLabel::new("torn").unwrap(),
    )
    .to_string();
    assert!(text.contains("cannot be read"), "{text}");
}

#[test]
fn the_token_directory_lock_is_exclusive_across_holders() {
    let tokens = common::softhsm().token_dir().to_owned();
    let first = TokenDirLock::acquire(&tokens, |_| panic!("nobody holds it yet")).unwrap();
    assert!(first.path().exists());
    let (tx, rx) = std::sync::mpsc::channel();
    let t = std::thread::spawn(move || {
        let mut waited = false;
        let _second = TokenDirLock::acquire(&tokens, |_| waited = true).unwrap();
        tx.send(waited).unwrap();
    });
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert!(
        rx.try_recv().is_err(),
        "the second holder got in while the first held it"
    );
    drop(first);
    assert!(rx.recv().unwrap(), "the second holder was told it waits");
    t.join().unwrap();
}
