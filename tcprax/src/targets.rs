//! Target grammar (IPs, names, CIDR, dash ranges, lists, files, exclusions) and the lazy
//! target set. STUB: being written; interface fixed.
use crate::model::TargetInfo;
use std::net::IpAddr;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error("bad target '{token}': {why}")]
    Bad { token: String, why: String },
}

#[derive(Debug, Clone)]
pub struct TargetSet {
    addrs: Vec<IpAddr>,
}

impl TargetSet {
    pub fn parse(
        specs: &[String],
        list_files: &[PathBuf],
        exclude: &[String],
        exclude_files: &[PathBuf],
    ) -> Result<TargetSet, TargetError> {
        let _ = (list_files, exclude, exclude_files);
        let addrs = specs
            .iter()
            .map(|s| s.parse().map_err(|_| TargetError::Bad { token: s.clone(), why: "not an IP".into() }))
            .collect::<Result<_, _>>()?;
        Ok(TargetSet { addrs })
    }
    pub fn len(&self) -> u128 {
        self.addrs.len() as u128
    }
    pub fn is_empty(&self) -> bool {
        self.addrs.is_empty()
    }
    pub fn get(&self, index: u128) -> Option<IpAddr> {
        self.addrs.get(index as usize).copied()
    }
    pub fn iter(&self) -> impl Iterator<Item = IpAddr> + '_ {
        self.addrs.iter().copied()
    }
    pub fn is_excluded(&self, _addr: &IpAddr) -> bool {
        false
    }
    pub fn name_of(&self, _addr: &IpAddr) -> Option<&str> {
        None
    }
    pub fn infos(&self) -> Vec<TargetInfo> {
        self.addrs.iter().map(|a| TargetInfo { spec: a.to_string(), resolved: Some(*a), addresses: 1 }).collect()
    }
}
