//! gx-resize: resize a virtual machine disk, like virt-resize (same options,
//! plan, messages and summary). The partition table is written and the
//! partitions copied on the host; only growing content uses the appliance.
//! Everything is in the gx-resize crate; this is options -> run -> exit.

use gx_resize::cli::{Options, UsageError};
use gx_resize::ui::Ui;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

const PROG: &str = "gx-resize";

fn main() {
    std::process::exit(real_main())
}

fn real_main() -> i32 {
    let m = match gx_resize::command().try_get_matches() {
        Ok(m) => m,
        Err(e) => {
            let code = if e.use_stderr() { 1 } else { 0 };
            let _ = e.print();
            return code;
        }
    };
    let early = Ui::new(PROG, false, false, false, false);
    let fail = |ui: &Ui, e: &dyn std::fmt::Display| {
        ui.error(&e.to_string());
        1
    };
    let mut o = match Options::from_matches(&m) {
        Ok(o) => o,
        Err(e) => return fail(&early, &e),
    };
    let ui = Ui::new(
        PROG,
        o.quiet,
        o.verbose,
        o.machine_readable.is_some(),
        o.colours,
    );
    let ndisks = m.get_many::<String>("disks").map_or(0, |d| d.len());
    if ndisks == 0 && o.domain.is_none() && o.machine_readable.is_some() {
        print!("{}", gx_resize::capabilities());
        return 0;
    }
    if let Err(e) = Options::check_disks(&m, o.domain.is_some()) {
        return fail(&ui, &e);
    }
    if let Some(name) = o.domain.clone() {
        match domain_disk(&name, o.connect.as_deref()) {
            Ok((path, format)) => {
                o.outdisk = o.indisk.clone();
                o.indisk = path;
                if o.format.is_none() {
                    o.format = format;
                }
            }
            Err(e) => return fail(&ui, &e),
        }
    }
    if o.verbose {
        let args: Vec<String> = std::env::args().collect();
        println!("command line: {}", args.join(" "));
    }
    // Ctrl-C and SIGTERM become a flag the copy polls: the run then stops
    // and says the output is incomplete instead of dying mid-write.
    let cancel = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        let _ = signal_hook::flag::register(sig, Arc::clone(&cancel));
    }
    match gx_resize::run(&o, &ui, &cancel) {
        Ok(()) => 0,
        Err(e @ gx_resize::Error::Interrupted(_)) => {
            ui.error(&e.to_string());
            130
        }
        Err(e) => fail(&ui, &e),
    }
}

/// The first disk of a libvirt guest, which must not be running.
fn domain_disk(name: &str, uri: Option<&str>) -> Result<(String, Option<String>), UsageError> {
    let d = gx_cli::domain::load(name, uri).map_err(|e| UsageError(format!("{e:#}")))?;
    if d.running {
        return Err(UsageError(format!(
            "{name}: the guest is running: shut it down before resizing its disk"
        )));
    }
    let disk = d
        .disks
        .first()
        .ok_or_else(|| UsageError(format!("{name}: the guest has no disks")))?;
    Ok((disk.path.display().to_string(), disk.format.clone()))
}
