//! Port grammar and the sorted, de-duplicated port list. STUB: being written; interface fixed.
#[derive(Debug, thiserror::Error)]
pub enum PortError {
    #[error("bad port '{token}': {why}")]
    Bad { token: String, why: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortList {
    ports: Vec<u16>,
}

impl PortList {
    pub fn parse(spec: &str) -> Result<PortList, PortError> {
        let mut ports = Vec::new();
        for tok in spec.split(',') {
            let bad = || PortError::Bad { token: tok.to_string(), why: "not a port".into() };
            if let Some((a, b)) = tok.split_once('-') {
                let a: u16 = a.parse().map_err(|_| bad())?;
                let b: u16 = b.parse().map_err(|_| bad())?;
                ports.extend(a..=b);
            } else {
                ports.push(tok.parse().map_err(|_| bad())?);
            }
        }
        ports.sort_unstable();
        ports.dedup();
        Ok(PortList { ports })
    }
    pub fn all() -> PortList {
        PortList { ports: (1..=65535).collect() }
    }
    pub fn default_top() -> PortList {
        PortList { ports: vec![21, 22, 23, 25, 80, 110, 143, 443, 587, 853, 993, 3389, 8080] }
    }
    pub fn len(&self) -> usize {
        self.ports.len()
    }
    pub fn is_empty(&self) -> bool {
        self.ports.is_empty()
    }
    pub fn as_slice(&self) -> &[u16] {
        &self.ports
    }
    pub fn spec_string(&self) -> String {
        self.ports.iter().map(|p| p.to_string()).collect::<Vec<_>>().join(",")
    }
}
