fn main() {
    println!("I am a plain WASI command, not a sluice step");
}
