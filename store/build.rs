// `sqlx::migrate!` embeds `migrations/` at compile time: rebuild when it
// changes (sqlx's documented recipe).
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
