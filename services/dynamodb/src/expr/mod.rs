//! The expression languages: a hand-written lexer, recursive-descent parsers with AWS's
//! error messages, and evaluators over items.

pub mod eval;
pub mod lexer;
pub mod parser;

pub use eval::{apply_update, eval, project, validate_static};
pub use parser::{Cond, ExprAttrs, Path, parse_condition, parse_projection, parse_update};
