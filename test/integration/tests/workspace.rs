//! Rules of the house that the build itself does not check.

use std::path::Path;

/// `unsafe` is forbidden once, in the root Cargo.toml's `[workspace.lints]`; every member but
/// the C API (protocols/v2/sv2-ffi) must inherit it, or it silently would not apply.
#[test]
fn every_crate_but_the_c_api_inherits_the_workspace_lints() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    assert!(manifest.contains("[workspace.lints.rust]\nunsafe_code = \"forbid\""));
    let members = &manifest[manifest.find("members").unwrap()..];
    let members = &members[..members.find(']').unwrap()];
    let mut checked = 0;
    for m in members.split('"').skip(1).step_by(2) {
        let toml = std::fs::read_to_string(root.join(m).join("Cargo.toml")).unwrap();
        let inherits = toml.contains("[lints]\nworkspace = true");
        if m.ends_with("sv2-ffi") {
            assert!(!inherits, "{m} holds the C ABI's unsafe code");
        } else {
            assert!(inherits, "{m}/Cargo.toml lacks [lints] workspace = true");
            checked += 1;
        }
    }
    assert!(checked > 20, "{checked}");
}
