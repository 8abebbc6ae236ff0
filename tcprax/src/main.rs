fn main() { println!("{}", tcprax::xdp::OBJECT.len()); }
