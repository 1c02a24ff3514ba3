//! Any bytes: the parser must return (a tree or an error), never panic, overflow its stack or
//! hang; and every tree must survive what analysers do with it.
#![no_main]

use go_syntax::ast::ExprId;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(file) = go_syntax::parse_file("fuzz.go", data) else { return };
    for id in go_syntax::walk::identifiers(&file) {
        let _ = file.position(id.pos);
        let _ = file.text(id);
    }
    for i in 0..file.exprs.len() {
        let id = ExprId(i as u32);
        assert!(file.expr_pos(id) <= file.expr_end(id) || file.exprs.len() > 0);
    }
    let resolution = go_syntax::resolve::resolve_imports(&file);
    let _ = resolution.len();
    for g in 0..file.comments.len() {
        let _ = file.comment_text(go_syntax::ast::CommentGroupId(g as u32));
    }
    let _ = file.directives().count();
    let map = go_syntax::comments::comment_map(&file);
    let _ = map.nodes().count();
});
