// Migrations are embedded by a proc macro that cargo cannot track: rebuild when any file under
// migrations/ changes (a directory here is watched recursively).
fn main() {
    println!("cargo:rerun-if-changed=../../migrations");
}
