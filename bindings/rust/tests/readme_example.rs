//! The README's C example (the block after `<!-- example -->`), in Rust.
//! Two threads, one stage: the head routes an item to the other thread's token.

use std::thread;

use exitleft::{Outcome, Stage};

#[test]
fn readme_example() -> std::io::Result<()> {
    let stage: Stage<&'static str> = Stage::new()?;
    let alice = stage.ticket("alice")?;
    let bob = stage.ticket("bob")?;

    // alice heads first; bob's enter then waits in line.
    assert_eq!(alice.enter(None)?, Outcome::Head);
    let bob_main = thread::spawn(move || -> std::io::Result<Option<&'static str>> {
        // Look in the mailbox; finding nothing, wait on the stage until something is ours.
        let mut rc = bob.enter(None)?;
        while rc == Outcome::Head {
            bob.exit()?; // nothing to read here: let alice head
            rc = bob.enter(None)?;
        }
        let got = if rc == Outcome::Token { bob.take().map(|item| *item) } else { None };
        if let Some(text) = got {
            println!("bob got: {}", text);
        }
        Ok(got)
    });
    // As head, alice "reads the resource" and routes what belongs to bob: only bob wakes.
    stage.deliver("bob", Box::new("hello from the head"))?;
    alice.exit()?;
    assert_eq!(bob_main.join().unwrap()?, Some("hello from the head"));
    Ok(()) // the tickets and the stage are freed as they go out of scope
}
