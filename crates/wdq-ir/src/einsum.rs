//! The Einsum equation: its terms as labels, parsed once for the kernel
//! (wdq-exec) and the gradient rule (wdq-autodiff). Refused, with an error
//! naming the equation: a label repeated within one term (a diagonal), an
//! output label no operand has, more than two operands.

use std::collections::BTreeMap;

/// Why an equation is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct EquationError(pub String);

/// One subscript of a term: a letter, or the `...` of broadcast axes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Label {
    Letter(char),
    Ellipsis,
}

/// A parsed equation: the input terms and the output term (the implicit
/// output, labels used once in alphabetical order after any `...`, when
/// there is no `->`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Equation {
    pub inputs: Vec<Vec<Label>>,
    pub output: Vec<Label>,
}

fn refuse(equation: &str, why: &str) -> EquationError {
    EquationError(format!("`{equation}`: {why}"))
}

fn term(text: &str, equation: &str) -> Result<Vec<Label>, EquationError> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if let Some(r) = rest.strip_prefix("...") {
            if out.contains(&Label::Ellipsis) {
                return Err(refuse(equation, "`...` twice in one term"));
            }
            out.push(Label::Ellipsis);
            rest = r;
            continue;
        }
        if !c.is_ascii_alphabetic() {
            return Err(refuse(equation, &format!("`{c}` is not a subscript")));
        }
        if out.contains(&Label::Letter(c)) {
            return Err(refuse(
                equation,
                &format!("label `{c}` repeats within one term (diagonals are not supported)"),
            ));
        }
        out.push(Label::Letter(c));
        rest = &rest[1..];
    }
    Ok(out)
}

impl Equation {
    /// Parses an equation (spaces ignored).
    ///
    /// # Errors
    /// [`EquationError`] for text outside the Einsum grammar and the forms
    /// the project refuses (see the module doc).
    pub fn parse(equation: &str) -> Result<Equation, EquationError> {
        let text: String = equation.chars().filter(|c| !c.is_whitespace()).collect();
        let (lhs, rhs) = match text.split_once("->") {
            Some((l, r)) => (l, Some(r)),
            None => (text.as_str(), None),
        };
        let inputs: Vec<Vec<Label>> = lhs
            .split(',')
            .map(|t| term(t, equation))
            .collect::<Result<_, _>>()?;
        if inputs.len() > 2 {
            return Err(refuse(equation, "more than two operands"));
        }
        let output = match rhs {
            Some(r) => term(r, equation)?,
            None => {
                let mut count: BTreeMap<Label, usize> = BTreeMap::new();
                for l in inputs.iter().flatten() {
                    *count.entry(*l).or_default() += 1;
                }
                let mut out: Vec<Label> = Vec::new();
                if count.contains_key(&Label::Ellipsis) {
                    out.push(Label::Ellipsis);
                }
                out.extend(
                    count
                        .iter()
                        .filter(|(l, &n)| n == 1 && **l != Label::Ellipsis)
                        .map(|(l, _)| *l),
                );
                out
            }
        };
        for l in &output {
            if !inputs.iter().any(|t| t.contains(l)) {
                return Err(refuse(equation, "an output label is in no operand"));
            }
        }
        Ok(Equation { inputs, output })
    }

    /// The equation in text form.
    pub fn text(&self) -> String {
        let show = |t: &[Label]| -> String {
            t.iter()
                .map(|l| match l {
                    Label::Letter(c) => c.to_string(),
                    Label::Ellipsis => "...".to_string(),
                })
                .collect()
        };
        let ins: Vec<String> = self.inputs.iter().map(|t| show(t)).collect();
        format!("{}->{}", ins.join(","), show(&self.output))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_implicit_and_refuses_diagonals() {
        let eq = Equation::parse("ij,jk").unwrap();
        assert_eq!(eq.text(), "ij,jk->ik");
        assert_eq!(
            Equation::parse("...ij,...jk").unwrap().text(),
            "...ij,...jk->...ik"
        );
        let e = Equation::parse("ii->i").unwrap_err().to_string();
        assert!(e.contains("ii->i") && e.contains("diagonal"), "{e}");
        assert!(Equation::parse("ij->k").is_err());
        assert!(Equation::parse("i,i,i->i").is_err());
    }
}
