//! RFC 5280 6.1 certificate policy processing.
//!
//! Implements the policy steps of the basic path validation algorithm:
//! 6.1.2 (a), (d), (e), (f); 6.1.3 (d), (e), (f); 6.1.4 (a), (b), (h), (i),
//! (j); 6.1.5 (a), (b), (g). The rest of 6.1 is up to the caller.
//!
//! The `valid_policy_tree` of RFC 5280 can grow exponentially with the path
//! length (CVE-2023-0464). This module stores it as the equivalent policy
//! *graph* of RFC 9618: one level per certificate, at most one node per policy
//! OID and level, and a node with several parents instead of one copy per
//! parent. The graph grows linearly with the policies and mappings in the
//! path; a node budget ([`MAX_POLICY_NODES`]) bounds it anyway. Pruning of
//! childless nodes (6.1.3 (d)(3), 6.1.4 (b)(2)) is deferred to a single
//! reachability pass at the end, which gives the same result.
//!
//! Policy qualifiers are not processed and not returned (RFC 9618 section 4
//! recommends this).

use std::collections::BTreeSet;

use const_oid::db::rfc5280::ANY_POLICY;
use const_oid::ObjectIdentifier;
use x509_cert::ext::pkix::{constraints::PolicyConstraints, CertificatePolicies, PolicyMappings};

/// The most policy graph nodes plus parent edges one path may create before
/// processing stops with [`PolicyError::TooComplex`].
pub const MAX_POLICY_NODES: usize = 10_000;

/// Caller inputs of RFC 5280 6.1.1 (c), (e), (f), (g).
#[derive(Debug, Clone, Default)]
pub struct PolicyInputs {
    /// user-initial-policy-set; empty means {anyPolicy}.
    pub initial_policy_set: Vec<ObjectIdentifier>,
    pub initial_explicit_policy: bool,
    pub initial_policy_mapping_inhibit: bool,
    pub initial_any_policy_inhibit: bool,
}

/// What one non-anchor certificate contributes, in path order from the certificate issued by the trust anchor (index 0) to the end entity (last).
#[derive(Debug, Clone, Copy)]
pub struct PolicyCert<'a> {
    pub policies: Option<&'a CertificatePolicies>,
    pub mappings: Option<&'a PolicyMappings>,
    pub constraints: Option<&'a PolicyConstraints>,
    /// The InhibitAnyPolicy SkipCerts value.
    pub inhibit_any_policy: Option<u32>,
    /// subject == issuer (decided by the caller).
    pub self_issued: bool,
}

/// The result of RFC 5280 6.1.5 (g).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyOutcome {
    /// The user-constrained / authorities-constrained valid policy set at the end (6.1.5 (g)); `any_policy` true when anyPolicy is in it.
    ///
    /// Policies are expressed in the trust anchor's policy domain (before any
    /// mapping), sorted, without duplicates and without anyPolicy itself.
    pub valid_policies: Vec<ObjectIdentifier>,
    pub any_policy: bool,
    /// Whether explicit_policy reached 0 (a policy was required).
    pub explicit_policy_required: bool,
}

/// Why policy processing rejected a path. `index` is the position of the
/// certificate in the path (0 = issued by the trust anchor).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// RFC 5280 6.1.3 (f) / 6.1.5 (g): an explicit policy is required and no
    /// valid policy is left.
    #[error("certificate {index}: explicit policy required but no valid policy remains")]
    NoValidPolicy { index: usize },
    /// RFC 5280 6.1.4 (a): a policy mapping names anyPolicy.
    #[error("certificate {index}: policy mapping to or from anyPolicy")]
    MappingToOrFromAnyPolicy { index: usize },
    /// RFC 5280 4.2.1.4: "A certificate policy OID MUST NOT appear more than
    /// once in a certificate policies extension."
    #[error("certificate {index}: certificatePolicies lists a policy OID twice")]
    DuplicatePolicy { index: usize },
    /// RFC 5280 4.2.1.4: `certificatePolicies ::= SEQUENCE SIZE (1..MAX)`.
    #[error("certificate {index}: certificatePolicies is empty")]
    EmptyCertificatePolicies { index: usize },
    /// RFC 5280 4.2.1.5: `PolicyMappings ::= SEQUENCE SIZE (1..MAX)`.
    #[error("certificate {index}: policyMappings is empty")]
    EmptyPolicyMappings { index: usize },
    /// RFC 5280 4.2.1.11: "Conforming CAs MUST NOT issue certificates where
    /// policy constraints is an empty sequence."
    #[error("certificate {index}: policyConstraints has neither requireExplicitPolicy nor inhibitPolicyMapping")]
    EmptyPolicyConstraints { index: usize },
    /// The policy graph would exceed [`MAX_POLICY_NODES`].
    #[error("policy graph exceeds {MAX_POLICY_NODES} nodes")]
    TooComplex,
}

/// RFC 5280 6.1: processes the policy extensions of `path` and returns the
/// valid policy set of 6.1.5 (g).
///
/// `path` excludes the trust anchor. Policy mappings and inhibitAnyPolicy of
/// the last certificate are ignored, as in RFC 5280 (6.1.4 is not run for
/// certificate n).
pub fn process_policies(
    inputs: &PolicyInputs,
    path: &[PolicyCert<'_>],
) -> Result<PolicyOutcome, PolicyError> {
    let n = path.len();
    let mut budget = Budget(MAX_POLICY_NODES);
    // 6.1.2 (d), (e), (f).
    let start = |zero: bool| if zero { 0 } else { n.saturating_add(1) };
    let mut explicit_policy = start(inputs.initial_explicit_policy);
    let mut inhibit_any_policy = start(inputs.initial_any_policy_inhibit);
    let mut policy_mapping = start(inputs.initial_policy_mapping_inhibit);

    // 6.1.2 (a): the root anyPolicy node, seen as the expected_policy_set of
    // depth 0, which is {anyPolicy}.
    let mut expected = Level {
        nodes: Vec::new(),
        any_policy: true,
    };
    let mut levels: Vec<Level> = Vec::with_capacity(n);

    for (index, cert) in path.iter().enumerate() {
        let is_last = index + 1 == n;
        let policies = cert
            .policies
            .map(|p| CertPolicySet::new(p, index))
            .transpose()?;
        let mappings = match cert.mappings {
            Some(m) if !is_last => Some(mapping_pairs(m, index)?),
            _ => None,
        };
        if let Some(pc) = cert.constraints {
            if pc.require_explicit_policy.is_none() && pc.inhibit_policy_mapping.is_none() {
                return Err(PolicyError::EmptyPolicyConstraints { index });
            }
        }

        // 6.1.3 (d) and (e).
        let any_policy_allowed = inhibit_any_policy > 0 || (!is_last && cert.self_issued);
        let expected_here = std::mem::take(&mut expected);
        let mut level = match &policies {
            Some(set) => {
                apply_certificate_policies(expected_here, set, any_policy_allowed, &mut budget)?
            }
            None => Level::default(),
        };

        // 6.1.3 (f).
        if explicit_policy == 0 && level.is_empty() {
            return Err(PolicyError::NoValidPolicy { index });
        }

        if is_last {
            // 6.1.5 (a) and (b).
            explicit_policy = explicit_policy.saturating_sub(1);
            if cert.constraints.and_then(|pc| pc.require_explicit_policy) == Some(0) {
                explicit_policy = 0;
            }
        } else {
            // 6.1.4 (a) was checked by `mapping_pairs`; (b) here.
            expected = apply_policy_mappings(
                &mut level,
                mappings.as_deref(),
                policy_mapping > 0,
                &mut budget,
            )?;
            // 6.1.4 (h).
            if !cert.self_issued {
                explicit_policy = explicit_policy.saturating_sub(1);
                policy_mapping = policy_mapping.saturating_sub(1);
                inhibit_any_policy = inhibit_any_policy.saturating_sub(1);
            }
            // 6.1.4 (i).
            if let Some(pc) = cert.constraints {
                lower_to(&mut explicit_policy, pc.require_explicit_policy);
                lower_to(&mut policy_mapping, pc.inhibit_policy_mapping);
            }
            // 6.1.4 (j).
            lower_to(&mut inhibit_any_policy, cert.inhibit_any_policy);
        }
        levels.push(level);
    }

    // 6.1.5 (g).
    let (authority, authority_any) = authorities_constrained_policy_set(&mut levels);
    let user_any =
        inputs.initial_policy_set.is_empty() || inputs.initial_policy_set.contains(&ANY_POLICY);
    let (valid_policies, any_policy) = if user_any {
        (authority.into_iter().collect(), authority_any)
    } else {
        let user: BTreeSet<ObjectIdentifier> = inputs.initial_policy_set.iter().copied().collect();
        let valid: Vec<ObjectIdentifier> = if authority_any {
            // 6.1.5 (g)(iii)(3): anyPolicy at depth n stands for every
            // user policy.
            user.into_iter().collect()
        } else {
            authority.intersection(&user).copied().collect()
        };
        (valid, false)
    };

    let explicit_policy_required = explicit_policy == 0;
    if explicit_policy_required && valid_policies.is_empty() && !any_policy {
        return Err(PolicyError::NoValidPolicy {
            index: n.saturating_sub(1),
        });
    }
    Ok(PolicyOutcome {
        valid_policies,
        any_policy,
        explicit_policy_required,
    })
}

/// 6.1.4 (i), (j): `counter = min(counter, skip_certs)` when present.
fn lower_to(counter: &mut usize, skip_certs: Option<u32>) {
    if let Some(skip) = skip_certs {
        let skip = usize::try_from(skip).unwrap_or(usize::MAX);
        *counter = (*counter).min(skip);
    }
}

/// Counts graph nodes and parent edges against [`MAX_POLICY_NODES`].
#[derive(Debug)]
struct Budget(usize);

impl Budget {
    fn spend(&mut self, amount: usize) -> Result<(), PolicyError> {
        self.0 = self.0.checked_sub(amount).ok_or(PolicyError::TooComplex)?;
        Ok(())
    }
}

/// A node of the policy graph (RFC 9618 5.2): one `valid_policy` at one depth.
#[derive(Debug, Clone)]
struct Node {
    policy: ObjectIdentifier,
    /// Indices of the parent nodes in the level above. Empty means the single
    /// parent is the anyPolicy node of the level above, which makes this node
    /// part of `valid_policy_node_set` (6.1.5 (g)(iii)(1)).
    parents: Vec<usize>,
    /// 6.1.4 (b)(1): `expected_policy_set` comes from the policy mappings
    /// instead of being `{policy}`.
    mapped: bool,
    /// Has a path to depth n (set by the final reachability pass).
    reachable: bool,
}

impl Node {
    fn new(policy: ObjectIdentifier, parents: Vec<usize>) -> Self {
        Self {
            policy,
            parents,
            mapped: false,
            reachable: false,
        }
    }
}

/// All nodes at one depth. Also used for the `expected_policy_set` values of
/// a depth (after BoringSSL): a node P with parents {A, B} in an "expected"
/// level means P is in the expected_policy_set of A and of B.
#[derive(Debug, Clone, Default)]
struct Level {
    /// Sorted by policy, one node per policy; anyPolicy is never stored here.
    nodes: Vec<Node>,
    /// An anyPolicy node exists at this depth. Its parent is always the
    /// anyPolicy node of the depth above, and its expected set {anyPolicy}.
    any_policy: bool,
}

impl Level {
    fn is_empty(&self) -> bool {
        !self.any_policy && self.nodes.is_empty()
    }

    fn find(&self, policy: &ObjectIdentifier) -> Option<usize> {
        self.nodes
            .binary_search_by(|node| node.policy.cmp(policy))
            .ok()
    }

    fn sort(&mut self) {
        self.nodes.sort_unstable_by_key(|node| node.policy);
    }
}

/// The policy OIDs of one certificatePolicies extension, validated.
#[derive(Debug)]
struct CertPolicySet {
    /// Sorted, unique, without anyPolicy.
    concrete: Vec<ObjectIdentifier>,
    any_policy: bool,
}

impl CertPolicySet {
    fn new(policies: &CertificatePolicies, index: usize) -> Result<Self, PolicyError> {
        if policies.0.is_empty() {
            return Err(PolicyError::EmptyCertificatePolicies { index });
        }
        let mut concrete: Vec<ObjectIdentifier> = policies
            .0
            .iter()
            .map(|info| info.policy_identifier)
            .collect();
        concrete.sort_unstable();
        if concrete.windows(2).any(|pair| pair[0] == pair[1]) {
            return Err(PolicyError::DuplicatePolicy { index });
        }
        let before = concrete.len();
        concrete.retain(|oid| *oid != ANY_POLICY);
        Ok(Self {
            any_policy: concrete.len() != before,
            concrete,
        })
    }

    fn contains(&self, policy: &ObjectIdentifier) -> bool {
        self.concrete.binary_search(policy).is_ok()
    }
}

/// The (issuerDomainPolicy, subjectDomainPolicy) pairs of a policyMappings
/// extension, sorted and deduplicated; rejects anyPolicy (6.1.4 (a)).
fn mapping_pairs(
    mappings: &PolicyMappings,
    index: usize,
) -> Result<Vec<(ObjectIdentifier, ObjectIdentifier)>, PolicyError> {
    if mappings.0.is_empty() {
        return Err(PolicyError::EmptyPolicyMappings { index });
    }
    let mut pairs = Vec::with_capacity(mappings.0.len());
    for mapping in &mappings.0 {
        let pair = (mapping.issuer_domain_policy, mapping.subject_domain_policy);
        if pair.0 == ANY_POLICY || pair.1 == ANY_POLICY {
            return Err(PolicyError::MappingToOrFromAnyPolicy { index });
        }
        pairs.push(pair);
    }
    pairs.sort_unstable();
    pairs.dedup();
    Ok(pairs)
}

/// RFC 5280 6.1.3 (d): builds the level of certificate i from the expected
/// policy sets of depth i-1 (`expected`) and the certificate's policies.
fn apply_certificate_policies(
    expected: Level,
    cert: &CertPolicySet,
    any_policy_allowed: bool,
    budget: &mut Budget,
) -> Result<Level, PolicyError> {
    let previous_any_policy = expected.any_policy;
    let mut level = expected;
    if !(cert.any_policy && any_policy_allowed) {
        // (d)(1)(i): keep only expected policies the certificate asserts.
        // Without (d)(2) no anyPolicy node is created at this depth.
        level.nodes.retain(|node| cert.contains(&node.policy));
        level.any_policy = false;
    }
    // Otherwise (d)(2): every expected policy, and anyPolicy if the depth
    // above had it, gets a node; `level` already holds exactly those.

    if previous_any_policy {
        // (d)(1)(ii): asserted policies no node expected hang off anyPolicy.
        let unmatched: Vec<ObjectIdentifier> = cert
            .concrete
            .iter()
            .filter(|policy| level.find(policy).is_none())
            .copied()
            .collect();
        if !unmatched.is_empty() {
            budget.spend(unmatched.len())?;
            level.nodes.extend(
                unmatched
                    .into_iter()
                    .map(|policy| Node::new(policy, Vec::new())),
            );
            level.sort();
        }
    }
    Ok(level)
}

/// RFC 5280 6.1.4 (b): applies the certificate's policy mappings to its level
/// and returns the expected policy sets for the next certificate.
fn apply_policy_mappings(
    level: &mut Level,
    mappings: Option<&[(ObjectIdentifier, ObjectIdentifier)]>,
    mapping_allowed: bool,
    budget: &mut Budget,
) -> Result<Level, PolicyError> {
    let mappings = mappings.unwrap_or(&[]);
    if mapping_allowed {
        // (b)(1): mark mapped nodes; an issuerDomainPolicy with no node of its
        // own gets one under anyPolicy if this depth has anyPolicy.
        let mut created = Vec::new();
        let mut issuers: Vec<ObjectIdentifier> = mappings.iter().map(|m| m.0).collect();
        issuers.dedup();
        for issuer in issuers {
            if let Some(i) = level.find(&issuer) {
                level.nodes[i].mapped = true;
            } else if level.any_policy {
                let mut node = Node::new(issuer, Vec::new());
                node.mapped = true;
                created.push(node);
            }
        }
        if !created.is_empty() {
            budget.spend(created.len())?;
            level.nodes.extend(created);
            level.sort();
        }
    } else if !mappings.is_empty() {
        // (b)(2): delete the nodes of mapped policies; their childless
        // ancestors are pruned by the final reachability pass.
        level.nodes.retain(|node| {
            mappings
                .binary_search_by(|m| m.0.cmp(&node.policy))
                .is_err()
        });
    }

    // expected_policy_set of every node, as (expected policy, parent index).
    let mut edges: Vec<(ObjectIdentifier, usize)> = Vec::with_capacity(level.nodes.len());
    for (parent, node) in level.nodes.iter().enumerate() {
        if node.mapped {
            let first = mappings.partition_point(|m| m.0 < node.policy);
            let subjects = mappings[first..]
                .iter()
                .take_while(|m| m.0 == node.policy)
                .map(|m| (m.1, parent));
            edges.extend(subjects);
        } else {
            edges.push((node.policy, parent));
        }
    }
    budget.spend(edges.len())?;
    edges.sort_unstable();

    let mut next = Level {
        nodes: Vec::new(),
        any_policy: level.any_policy,
    };
    for (policy, parent) in edges {
        match next.nodes.last_mut() {
            Some(node) if node.policy == policy => node.parents.push(parent),
            _ => {
                budget.spend(1)?;
                next.nodes.push(Node::new(policy, vec![parent]));
            }
        }
    }
    Ok(next)
}

/// RFC 5280 6.1.5 (g) as restated by RFC 9618: the `valid_policy` of every
/// node that hangs off anyPolicy and has a path to depth n, plus whether
/// depth n has an anyPolicy node.
fn authorities_constrained_policy_set(levels: &mut [Level]) -> (BTreeSet<ObjectIdentifier>, bool) {
    let mut set = BTreeSet::new();
    let Some(last) = levels.last_mut() else {
        // Empty path: the tree is the root anyPolicy node alone.
        return (set, true);
    };
    let any_policy = last.any_policy;
    for node in &mut last.nodes {
        node.reachable = true;
    }
    for depth in (0..levels.len()).rev() {
        let (above, rest) = levels.split_at_mut(depth);
        for node in rest[0].nodes.iter().filter(|node| node.reachable) {
            if node.parents.is_empty() {
                set.insert(node.policy);
            } else if let Some(parent_level) = above.last_mut() {
                for &parent in &node.parents {
                    parent_level.nodes[parent].reachable = true;
                }
            }
        }
    }
    (set, any_policy)
}

#[cfg(test)]
mod tests {
    use super::*;
    use x509_cert::ext::pkix::certpolicy::PolicyInformation;
    use x509_cert::ext::pkix::PolicyMapping;

    /// NIST-test-policy-1..3 of PKITS (2.16.840.1.101.3.2.1.48.x).
    const P1: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.2.1.48.1");
    const P2: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.2.1.48.2");
    const P3: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.2.1.48.3");
    const ANY: ObjectIdentifier = ANY_POLICY;

    #[derive(Default)]
    struct TestCert {
        policies: Option<CertificatePolicies>,
        mappings: Option<PolicyMappings>,
        constraints: Option<PolicyConstraints>,
        inhibit_any_policy: Option<u32>,
        self_issued: bool,
    }

    fn cert(policies: &[ObjectIdentifier]) -> TestCert {
        TestCert {
            policies: Some(CertificatePolicies(
                policies
                    .iter()
                    .map(|&policy_identifier| PolicyInformation {
                        policy_identifier,
                        policy_qualifiers: None,
                    })
                    .collect(),
            )),
            ..TestCert::default()
        }
    }

    fn no_policies() -> TestCert {
        TestCert::default()
    }

    impl TestCert {
        fn map(mut self, pairs: &[(ObjectIdentifier, ObjectIdentifier)]) -> Self {
            self.mappings = Some(PolicyMappings(
                pairs
                    .iter()
                    .map(
                        |&(issuer_domain_policy, subject_domain_policy)| PolicyMapping {
                            issuer_domain_policy,
                            subject_domain_policy,
                        },
                    )
                    .collect(),
            ));
            self
        }

        fn require_explicit(mut self, skip: u32) -> Self {
            self.constraints
                .get_or_insert(PolicyConstraints {
                    require_explicit_policy: None,
                    inhibit_policy_mapping: None,
                })
                .require_explicit_policy = Some(skip);
            self
        }

        fn inhibit_mapping(mut self, skip: u32) -> Self {
            self.constraints
                .get_or_insert(PolicyConstraints {
                    require_explicit_policy: None,
                    inhibit_policy_mapping: None,
                })
                .inhibit_policy_mapping = Some(skip);
            self
        }

        fn inhibit_any(mut self, skip: u32) -> Self {
            self.inhibit_any_policy = Some(skip);
            self
        }

        fn self_issued(mut self) -> Self {
            self.self_issued = true;
            self
        }
    }

    fn run(inputs: &PolicyInputs, certs: &[TestCert]) -> Result<PolicyOutcome, PolicyError> {
        let path: Vec<PolicyCert<'_>> = certs
            .iter()
            .map(|c| PolicyCert {
                policies: c.policies.as_ref(),
                mappings: c.mappings.as_ref(),
                constraints: c.constraints.as_ref(),
                inhibit_any_policy: c.inhibit_any_policy,
                self_issued: c.self_issued,
            })
            .collect();
        process_policies(inputs, &path)
    }

    fn explicit(user: &[ObjectIdentifier]) -> PolicyInputs {
        PolicyInputs {
            initial_policy_set: user.to_vec(),
            initial_explicit_policy: true,
            ..PolicyInputs::default()
        }
    }

    fn lenient(user: &[ObjectIdentifier]) -> PolicyInputs {
        PolicyInputs {
            initial_policy_set: user.to_vec(),
            ..PolicyInputs::default()
        }
    }

    fn valid(policies: &[ObjectIdentifier], explicit_policy_required: bool) -> PolicyOutcome {
        PolicyOutcome {
            valid_policies: policies.to_vec(),
            any_policy: false,
            explicit_policy_required,
        }
    }

    fn valid_any(policies: &[ObjectIdentifier], explicit_policy_required: bool) -> PolicyOutcome {
        PolicyOutcome {
            any_policy: true,
            ..valid(policies, explicit_policy_required)
        }
    }

    // PKITS 4.8.1 All Certificates Same Policy Test1.
    #[test]
    fn same_policy_throughout() {
        let path = [cert(&[P1]), cert(&[P1])];
        assert_eq!(run(&explicit(&[]), &path), Ok(valid(&[P1], true)));
        assert_eq!(run(&explicit(&[P1]), &path), Ok(valid(&[P1], true)));
        assert_eq!(run(&explicit(&[P1, P2]), &path), Ok(valid(&[P1], true)));
        assert_eq!(
            run(&explicit(&[P2]), &path),
            Err(PolicyError::NoValidPolicy { index: 1 })
        );
        assert_eq!(run(&lenient(&[P2]), &path), Ok(valid(&[], false)));
    }

    // PKITS 4.8.2 All Certificates No Policies Test2: a NULL tree is fine
    // unless a policy is required.
    #[test]
    fn no_policies_null_tree() {
        let path = [no_policies(), no_policies()];
        assert_eq!(run(&lenient(&[]), &path), Ok(valid(&[], false)));
        assert_eq!(
            run(&explicit(&[]), &path),
            Err(PolicyError::NoValidPolicy { index: 0 })
        );
    }

    // PKITS 4.8.3 Different Policies Test3.
    #[test]
    fn different_policies_empty_the_tree() {
        let path = [cert(&[P2]), cert(&[P1])];
        assert_eq!(run(&lenient(&[]), &path), Ok(valid(&[], false)));
        assert_eq!(
            run(&explicit(&[]), &path),
            Err(PolicyError::NoValidPolicy { index: 1 })
        );
    }

    // PKITS 4.8.11 All Certificates anyPolicy Test11 and 4.8.14 AnyPolicy
    // Test14.
    #[test]
    fn any_policy_passthrough() {
        let all_any = [cert(&[ANY]), cert(&[ANY]), cert(&[ANY])];
        assert_eq!(run(&explicit(&[]), &all_any), Ok(valid_any(&[], true)));
        // 6.1.5 (g)(iii)(3): anyPolicy at depth n grants each user policy.
        assert_eq!(
            run(&explicit(&[P1, P2]), &all_any),
            Ok(valid(&[P1, P2], true))
        );

        let leaf_p1 = [cert(&[ANY]), cert(&[P1])];
        assert_eq!(run(&explicit(&[]), &leaf_p1), Ok(valid(&[P1], true)));
        assert_eq!(run(&explicit(&[P1]), &leaf_p1), Ok(valid(&[P1], true)));
        assert_eq!(
            run(&explicit(&[P2]), &leaf_p1),
            Err(PolicyError::NoValidPolicy { index: 1 })
        );
    }

    // PKITS 4.8.10 All Certificates Same Policies Test10 and the
    // user-initial-policy-set intersection of 6.1.5 (g)(iii).
    #[test]
    fn user_initial_policy_set_intersection() {
        let path = [cert(&[P1, P2]), cert(&[P1, P2]), cert(&[P2, P3, P1])];
        assert_eq!(run(&explicit(&[]), &path), Ok(valid(&[P1, P2], true)));
        assert_eq!(run(&explicit(&[P2]), &path), Ok(valid(&[P2], true)));
        assert_eq!(run(&explicit(&[P3, P1]), &path), Ok(valid(&[P1], true)));
        // anyPolicy in the user set means any-policy.
        assert_eq!(
            run(&explicit(&[P3, ANY]), &path),
            Ok(valid(&[P1, P2], true))
        );
        assert_eq!(
            run(&explicit(&[P3]), &path),
            Err(PolicyError::NoValidPolicy { index: 2 })
        );
    }

    // PKITS 4.9.1 / 4.9.3 Valid and Invalid RequireExplicitPolicy: counting
    // from the certificate that carries the constraint.
    #[test]
    fn require_explicit_policy_counts_down() {
        let path = |skip| {
            [
                no_policies().require_explicit(skip),
                no_policies(),
                no_policies(),
                no_policies(),
            ]
        };
        // Never reaches 0: the NULL tree is acceptable.
        assert_eq!(run(&lenient(&[]), &path(10)), Ok(valid(&[], false)));
        // Reaches 0 at the end entity's 6.1.5 (a).
        assert_eq!(
            run(&lenient(&[]), &path(3)),
            Err(PolicyError::NoValidPolicy { index: 3 })
        );
        // Reaches 0 before certificate 3 is processed: 6.1.3 (f).
        assert_eq!(
            run(&lenient(&[]), &path(2)),
            Err(PolicyError::NoValidPolicy { index: 3 })
        );
        // Same path with policies: satisfied.
        let with_policies = [
            cert(&[P1]).require_explicit(0),
            cert(&[P1]),
            cert(&[P1]),
            cert(&[P1]),
        ];
        assert_eq!(run(&lenient(&[]), &with_policies), Ok(valid(&[P1], true)));
    }

    // 6.1.5 (b): only requireExplicitPolicy 0 on the end entity counts.
    #[test]
    fn end_entity_require_explicit_policy() {
        let zero = [no_policies(), no_policies().require_explicit(0)];
        assert_eq!(
            run(&lenient(&[]), &zero),
            Err(PolicyError::NoValidPolicy { index: 1 })
        );
        let one = [no_policies(), no_policies().require_explicit(1)];
        assert_eq!(run(&lenient(&[]), &one), Ok(valid(&[], false)));
    }

    // 6.1.4 (h): self-issued intermediates do not decrement the counters
    // (PKITS 4.9.6 / 4.9.7 Self-Issued requireExplicitPolicy).
    #[test]
    fn self_issued_exempt_from_explicit_policy_countdown() {
        let path = |self_issued: bool| {
            let middle = if self_issued {
                no_policies().self_issued()
            } else {
                no_policies()
            };
            [no_policies().require_explicit(2), middle, no_policies()]
        };
        assert_eq!(run(&lenient(&[]), &path(true)), Ok(valid(&[], false)));
        assert_eq!(
            run(&lenient(&[]), &path(false)),
            Err(PolicyError::NoValidPolicy { index: 2 })
        );
    }

    // PKITS 4.10.1 Valid Policy Mapping Test1: results are in the trust
    // anchor's domain.
    #[test]
    fn policy_mapping() {
        let path = [cert(&[P1]).map(&[(P1, P2)]), cert(&[P2])];
        assert_eq!(run(&explicit(&[]), &path), Ok(valid(&[P1], true)));
        assert_eq!(run(&explicit(&[P1]), &path), Ok(valid(&[P1], true)));
        assert_eq!(
            run(&explicit(&[P2]), &path),
            Err(PolicyError::NoValidPolicy { index: 1 })
        );
        // The subject domain policy is no longer P1.
        let unmapped_leaf = [cert(&[P1]).map(&[(P1, P2)]), cert(&[P1])];
        assert_eq!(
            run(&explicit(&[]), &unmapped_leaf),
            Err(PolicyError::NoValidPolicy { index: 1 })
        );
    }

    // One issuer policy mapped to two subject policies, and two issuer
    // policies mapped to one.
    #[test]
    fn mapping_fan_out_and_fan_in() {
        let fan_out = [cert(&[P1]).map(&[(P1, P2), (P1, P3)]), cert(&[P3])];
        assert_eq!(run(&explicit(&[]), &fan_out), Ok(valid(&[P1], true)));
        let fan_in = [cert(&[P1, P2]).map(&[(P1, P3), (P2, P3)]), cert(&[P3])];
        assert_eq!(run(&explicit(&[]), &fan_in), Ok(valid(&[P1, P2], true)));
        assert_eq!(run(&explicit(&[P2]), &fan_in), Ok(valid(&[P2], true)));
    }

    // 6.1.4 (b)(1): a mapped policy the certificate only covers by anyPolicy.
    #[test]
    fn mapping_under_any_policy() {
        let path = [cert(&[ANY]).map(&[(P1, P2)]), cert(&[P2])];
        assert_eq!(run(&explicit(&[]), &path), Ok(valid(&[P1], true)));
        assert_eq!(
            run(&explicit(&[P2]), &path),
            Err(PolicyError::NoValidPolicy { index: 1 })
        );
        // Any other policy still passes through the anyPolicy node.
        let other = [cert(&[ANY]).map(&[(P1, P2)]), cert(&[P3])];
        assert_eq!(run(&explicit(&[]), &other), Ok(valid(&[P3], true)));
    }

    // PKITS 4.10.2 Invalid Policy Mapping Test2 and 4.11.1 Invalid
    // inhibitPolicyMapping Test1: mapped nodes are deleted (6.1.4 (b)(2)).
    #[test]
    fn mapping_inhibited() {
        let path = [cert(&[P1]).map(&[(P1, P2)]), cert(&[P2])];
        let inputs = PolicyInputs {
            initial_policy_mapping_inhibit: true,
            ..explicit(&[])
        };
        assert_eq!(
            run(&inputs, &path),
            Err(PolicyError::NoValidPolicy { index: 1 })
        );

        let inhibited_by_ca = [
            cert(&[P1]).inhibit_mapping(0),
            cert(&[P1]).map(&[(P1, P2)]),
            cert(&[P2]),
        ];
        assert_eq!(
            run(&explicit(&[]), &inhibited_by_ca),
            Err(PolicyError::NoValidPolicy { index: 2 })
        );
        // Unmapped policies survive a mapping that is inhibited.
        let partly = [cert(&[P1, P3]).map(&[(P1, P2)]), cert(&[P2, P3])];
        assert_eq!(run(&inputs, &partly), Ok(valid(&[P3], true)));
    }

    // inhibitPolicyMapping skip certs, and the self-issued exemption
    // (PKITS 4.11 Self-Issued inhibitPolicyMapping tests).
    #[test]
    fn inhibit_policy_mapping_skip_certs() {
        // skip 1: certificate 1 may still map, certificate 2 may not.
        let maps_at_1 = [
            cert(&[P1]).inhibit_mapping(1),
            cert(&[P1]).map(&[(P1, P2)]),
            cert(&[P2]),
        ];
        assert_eq!(run(&explicit(&[]), &maps_at_1), Ok(valid(&[P1], true)));
        let maps_at_2 = |middle: TestCert| {
            [
                cert(&[P1]).inhibit_mapping(1),
                middle,
                cert(&[P1]).map(&[(P1, P2)]),
                cert(&[P2]),
            ]
        };
        assert_eq!(
            run(&explicit(&[]), &maps_at_2(cert(&[P1]))),
            Err(PolicyError::NoValidPolicy { index: 3 })
        );
        assert_eq!(
            run(&explicit(&[]), &maps_at_2(cert(&[P1]).self_issued())),
            Ok(valid(&[P1], true))
        );
    }

    // PKITS 4.12.1 / 4.12.2 inhibitAnyPolicy Test1 and Test2.
    #[test]
    fn inhibit_any_policy() {
        let any_leaf = [cert(&[P1]).inhibit_any(0), cert(&[ANY])];
        assert_eq!(
            run(&explicit(&[]), &any_leaf),
            Err(PolicyError::NoValidPolicy { index: 1 })
        );
        let p1_leaf = [cert(&[P1]).inhibit_any(0), cert(&[P1])];
        assert_eq!(run(&explicit(&[]), &p1_leaf), Ok(valid(&[P1], true)));

        let inputs = PolicyInputs {
            initial_any_policy_inhibit: true,
            ..explicit(&[])
        };
        assert_eq!(
            run(&inputs, &[cert(&[ANY]), cert(&[P1])]),
            Err(PolicyError::NoValidPolicy { index: 0 })
        );
    }

    // inhibitAnyPolicy SkipCerts: anyPolicy is honoured for `skip` more
    // non-self-issued certificates.
    #[test]
    fn inhibit_any_policy_skip_certs() {
        let path = |skip| [cert(&[ANY]).inhibit_any(skip), cert(&[ANY]), cert(&[ANY])];
        assert_eq!(run(&explicit(&[]), &path(2)), Ok(valid_any(&[], true)));
        assert_eq!(
            run(&explicit(&[]), &path(1)),
            Err(PolicyError::NoValidPolicy { index: 2 })
        );
        assert_eq!(
            run(&explicit(&[]), &path(0)),
            Err(PolicyError::NoValidPolicy { index: 1 })
        );
    }

    // 6.1.3 (d)(2)(b) and 6.1.4 (h): a self-issued intermediate keeps
    // anyPolicy even when inhibited, and does not use up a skip count; the
    // end entity gets no such exemption.
    #[test]
    fn self_issued_any_policy_exemptions() {
        let inhibited = [
            cert(&[ANY]).inhibit_any(0),
            cert(&[ANY]).self_issued(),
            cert(&[P1]),
        ];
        assert_eq!(run(&explicit(&[]), &inhibited), Ok(valid(&[P1], true)));
        let self_issued_leaf = [cert(&[ANY]).inhibit_any(0), cert(&[ANY]).self_issued()];
        assert_eq!(
            run(&explicit(&[]), &self_issued_leaf),
            Err(PolicyError::NoValidPolicy { index: 1 })
        );
        let skip_one = [
            cert(&[ANY]).inhibit_any(1),
            cert(&[ANY]).self_issued(),
            cert(&[ANY]),
        ];
        assert_eq!(run(&explicit(&[]), &skip_one), Ok(valid_any(&[], true)));
    }

    // 6.1.3 (e): a certificate without certificatePolicies ends the tree.
    #[test]
    fn missing_extension_nulls_tree() {
        let path = [cert(&[ANY]), no_policies(), cert(&[ANY])];
        assert_eq!(run(&lenient(&[]), &path), Ok(valid(&[], false)));
        assert_eq!(
            run(&explicit(&[]), &path),
            Err(PolicyError::NoValidPolicy { index: 1 })
        );
    }

    #[test]
    fn malformed_extensions_rejected() {
        assert_eq!(
            run(&lenient(&[]), &[cert(&[P1, P2, P1])]),
            Err(PolicyError::DuplicatePolicy { index: 0 })
        );
        assert_eq!(
            run(&lenient(&[]), &[cert(&[P1]), cert(&[ANY, ANY])]),
            Err(PolicyError::DuplicatePolicy { index: 1 })
        );
        assert_eq!(
            run(&lenient(&[]), &[cert(&[])]),
            Err(PolicyError::EmptyCertificatePolicies { index: 0 })
        );
        // PKITS 4.10.7 / 4.10.8 Invalid Mapping From / To anyPolicy.
        assert_eq!(
            run(&lenient(&[]), &[cert(&[P1]).map(&[(ANY, P1)]), cert(&[P1])]),
            Err(PolicyError::MappingToOrFromAnyPolicy { index: 0 })
        );
        assert_eq!(
            run(&lenient(&[]), &[cert(&[P1]).map(&[(P1, ANY)]), cert(&[P1])]),
            Err(PolicyError::MappingToOrFromAnyPolicy { index: 0 })
        );
        assert_eq!(
            run(&lenient(&[]), &[cert(&[P1]).map(&[]), cert(&[P1])]),
            Err(PolicyError::EmptyPolicyMappings { index: 0 })
        );
        let mut empty_pc = cert(&[P1]);
        empty_pc.constraints = Some(PolicyConstraints {
            require_explicit_policy: None,
            inhibit_policy_mapping: None,
        });
        assert_eq!(
            run(&lenient(&[]), &[cert(&[P1]), empty_pc]),
            Err(PolicyError::EmptyPolicyConstraints { index: 1 })
        );
    }

    // The classic exponential case: every CA asserts P1 and P2 and maps each
    // to both. The RFC 5280 tree would have 2^40 leaves; the graph has two
    // nodes per level.
    #[test]
    fn exponential_tree_stays_linear() {
        let mut path: Vec<TestCert> = (0..40)
            .map(|_| cert(&[P1, P2]).map(&[(P1, P1), (P1, P2), (P2, P1), (P2, P2)]))
            .collect();
        path.push(cert(&[P2]));
        assert_eq!(run(&explicit(&[]), &path), Ok(valid(&[P1, P2], true)));
        assert_eq!(run(&explicit(&[P1]), &path), Ok(valid(&[P1], true)));
    }

    // Wide policy sets carried over many CAs exhaust the budget.
    #[test]
    fn node_budget_rejects_huge_graphs() {
        let many: Vec<ObjectIdentifier> = (1..=3000u32)
            .map(|i| {
                ObjectIdentifier::new(&format!("1.3.6.1.4.1.99999.{i}"))
                    .expect("generated OIDs are well formed")
            })
            .collect();
        let path: Vec<TestCert> = (0..5).map(|_| cert(&many)).collect();
        assert_eq!(run(&lenient(&[]), &path), Err(PolicyError::TooComplex));
    }

    #[test]
    fn empty_path_is_any_policy() {
        assert_eq!(run(&explicit(&[]), &[]), Ok(valid_any(&[], true)));
        assert_eq!(run(&lenient(&[P1]), &[]), Ok(valid(&[P1], false)));
    }

    /// RFC 5280 6.1 taken literally: a real `valid_policy_tree` with one node
    /// per (parent, policy), eager pruning and the 6.1.5 (g) rewrite. Only fit
    /// for small inputs; used to cross-check the graph.
    mod literal_tree {
        use super::*;

        struct TreeNode {
            policy: ObjectIdentifier,
            parent: Option<usize>,
            depth: usize,
            expected: BTreeSet<ObjectIdentifier>,
            alive: bool,
        }

        struct Tree(Vec<TreeNode>);

        impl Tree {
            fn at(&self, depth: usize) -> Vec<usize> {
                (0..self.0.len())
                    .filter(|&i| self.0[i].alive && self.0[i].depth == depth)
                    .collect()
            }
            fn children(&self, parent: usize) -> Vec<usize> {
                (0..self.0.len())
                    .filter(|&i| self.0[i].alive && self.0[i].parent == Some(parent))
                    .collect()
            }
            fn add(
                &mut self,
                parent: usize,
                policy: ObjectIdentifier,
                expected: &[ObjectIdentifier],
            ) {
                let depth = self.0[parent].depth + 1;
                self.0.push(TreeNode {
                    policy,
                    parent: Some(parent),
                    depth,
                    expected: expected.iter().copied().collect(),
                    alive: true,
                });
            }
            fn kill(&mut self, node: usize) {
                self.0[node].alive = false;
                for child in self.children(node) {
                    self.kill(child);
                }
            }
            /// Deletes nodes above `depth` without children, repeatedly.
            /// Returns false when the tree became NULL.
            fn prune(&mut self, depth: usize) -> bool {
                for d in (0..depth).rev() {
                    for node in self.at(d) {
                        if self.children(node).is_empty() {
                            self.0[node].alive = false;
                        }
                    }
                }
                self.0[0].alive
            }
            fn any_at(&self, depth: usize) -> Option<usize> {
                self.at(depth)
                    .into_iter()
                    .find(|&i| self.0[i].policy == ANY)
            }
        }

        pub(super) fn process(
            inputs: &PolicyInputs,
            path: &[PolicyCert<'_>],
        ) -> Result<PolicyOutcome, PolicyError> {
            let n = path.len();
            let start = |inhibit: bool| if inhibit { 0 } else { n + 1 };
            let mut explicit_policy = start(inputs.initial_explicit_policy);
            let mut inhibit_any_policy = start(inputs.initial_any_policy_inhibit);
            let mut policy_mapping = start(inputs.initial_policy_mapping_inhibit);
            let mut tree = Tree(vec![TreeNode {
                policy: ANY,
                parent: None,
                depth: 0,
                expected: [ANY].into_iter().collect(),
                alive: true,
            }]);
            let mut null = false;
            for (index, cert) in path.iter().enumerate() {
                let i = index + 1;
                let is_last = i == n;
                // 6.1.3 (d), (e)
                match cert.policies {
                    None => null = true,
                    Some(_) if null => {}
                    Some(policies) => {
                        let oids: Vec<ObjectIdentifier> =
                            policies.0.iter().map(|p| p.policy_identifier).collect();
                        for &p in oids.iter().filter(|&&p| p != ANY) {
                            let parents: Vec<usize> = tree
                                .at(i - 1)
                                .into_iter()
                                .filter(|&k| tree.0[k].expected.contains(&p))
                                .collect();
                            for &parent in &parents {
                                tree.add(parent, p, &[p]);
                            }
                            if parents.is_empty() {
                                if let Some(any) = tree.any_at(i - 1) {
                                    tree.add(any, p, &[p]);
                                }
                            }
                        }
                        if oids.contains(&ANY)
                            && (inhibit_any_policy > 0 || (!is_last && cert.self_issued))
                        {
                            for parent in tree.at(i - 1) {
                                let expected: Vec<ObjectIdentifier> =
                                    tree.0[parent].expected.iter().copied().collect();
                                for value in expected {
                                    let present = tree
                                        .children(parent)
                                        .iter()
                                        .any(|&c| tree.0[c].policy == value);
                                    if !present {
                                        tree.add(parent, value, &[value]);
                                    }
                                }
                            }
                        }
                        null = !tree.prune(i);
                    }
                }
                // 6.1.3 (f)
                if explicit_policy == 0 && null {
                    return Err(PolicyError::NoValidPolicy { index });
                }
                if is_last {
                    explicit_policy = explicit_policy.saturating_sub(1);
                    if cert.constraints.and_then(|pc| pc.require_explicit_policy) == Some(0) {
                        explicit_policy = 0;
                    }
                    break;
                }
                // 6.1.4 (b)
                if let (Some(mappings), false) = (cert.mappings, null) {
                    let mut issuers: Vec<ObjectIdentifier> =
                        mappings.0.iter().map(|m| m.issuer_domain_policy).collect();
                    issuers.sort_unstable();
                    issuers.dedup();
                    for issuer in issuers {
                        let subjects: Vec<ObjectIdentifier> = mappings
                            .0
                            .iter()
                            .filter(|m| m.issuer_domain_policy == issuer)
                            .map(|m| m.subject_domain_policy)
                            .collect();
                        let nodes: Vec<usize> = tree
                            .at(i)
                            .into_iter()
                            .filter(|&k| tree.0[k].policy == issuer)
                            .collect();
                        if policy_mapping > 0 {
                            for &k in &nodes {
                                tree.0[k].expected = subjects.iter().copied().collect();
                            }
                            if nodes.is_empty() && tree.any_at(i).is_some() {
                                let any_above = tree.any_at(i - 1).expect("anyPolicy chain");
                                tree.add(any_above, issuer, &subjects);
                            }
                        } else {
                            for k in nodes {
                                tree.kill(k);
                            }
                            null = !tree.prune(i);
                        }
                    }
                }
                if !cert.self_issued {
                    explicit_policy = explicit_policy.saturating_sub(1);
                    policy_mapping = policy_mapping.saturating_sub(1);
                    inhibit_any_policy = inhibit_any_policy.saturating_sub(1);
                }
                if let Some(pc) = cert.constraints {
                    lower_to(&mut explicit_policy, pc.require_explicit_policy);
                    lower_to(&mut policy_mapping, pc.inhibit_policy_mapping);
                }
                lower_to(&mut inhibit_any_policy, cert.inhibit_any_policy);
            }

            // 6.1.5 (g)
            let user: BTreeSet<ObjectIdentifier> =
                inputs.initial_policy_set.iter().copied().collect();
            let user_any = user.is_empty() || user.contains(&ANY);
            if !null && !user_any {
                let node_set: Vec<usize> = (1..tree.0.len())
                    .filter(|&k| {
                        let parent = tree.0[k].parent.expect("non-root");
                        tree.0[k].alive && tree.0[parent].policy == ANY
                    })
                    .collect();
                for &k in &node_set {
                    if tree.0[k].policy != ANY && !user.contains(&tree.0[k].policy) {
                        tree.kill(k);
                    }
                }
                if let Some(any_n) = tree.any_at(n) {
                    let any_above = tree.0[any_n].parent.expect("non-root");
                    for &p in &user {
                        let covered = node_set
                            .iter()
                            .any(|&k| tree.0[k].alive && tree.0[k].policy == p);
                        if !covered {
                            tree.add(any_above, p, &[p]);
                        }
                    }
                    tree.0[any_n].alive = false;
                }
                null = !tree.prune(n);
            }
            let mut valid_policies = BTreeSet::new();
            let mut any_policy = false;
            if !null {
                for k in 1..tree.0.len() {
                    let parent = tree.0[k].parent.expect("non-root");
                    if tree.0[k].alive && tree.0[parent].policy == ANY && tree.0[k].policy != ANY {
                        valid_policies.insert(tree.0[k].policy);
                    }
                }
                any_policy = tree.any_at(n).is_some();
            }
            if explicit_policy == 0 && valid_policies.is_empty() && !any_policy {
                return Err(PolicyError::NoValidPolicy { index: n - 1 });
            }
            Ok(PolicyOutcome {
                valid_policies: valid_policies.into_iter().collect(),
                any_policy,
                explicit_policy_required: explicit_policy == 0,
            })
        }
    }

    /// xorshift64*: reproducible randomness without a dependency.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }
        fn below(&mut self, bound: u64) -> u64 {
            self.next() % bound
        }
        fn chance(&mut self, one_in: u64) -> bool {
            self.below(one_in) == 0
        }
        fn subset(&mut self, from: &[ObjectIdentifier]) -> Vec<ObjectIdentifier> {
            from.iter().copied().filter(|_| self.chance(2)).collect()
        }
    }

    // The graph agrees with the literal RFC 5280 tree on random small paths
    // over three policies, anyPolicy, mappings, constraints and self-issued
    // certificates.
    #[test]
    fn graph_matches_literal_rfc5280_tree() {
        let concrete = [P1, P2, P3];
        let mut rng = Rng(0x5280_6100_9618_0001);
        for _ in 0..20_000 {
            let len = 1 + rng.below(5) as usize;
            let path: Vec<TestCert> = (0..len)
                .map(|_| {
                    let mut c = if rng.chance(6) {
                        no_policies()
                    } else {
                        let mut oids = rng.subset(&[P1, P2, P3, ANY]);
                        if oids.is_empty() {
                            oids.push(if rng.chance(2) { ANY } else { P1 });
                        }
                        cert(&oids)
                    };
                    if rng.chance(3) {
                        let pairs: Vec<(ObjectIdentifier, ObjectIdentifier)> = concrete
                            .iter()
                            .flat_map(|&a| concrete.iter().map(move |&b| (a, b)))
                            .filter(|_| rng.chance(4))
                            .collect();
                        if !pairs.is_empty() {
                            c = c.map(&pairs);
                        }
                    }
                    if rng.chance(5) {
                        c = c.require_explicit(rng.below(4) as u32);
                    }
                    if rng.chance(5) {
                        c = c.inhibit_mapping(rng.below(4) as u32);
                    }
                    if rng.chance(5) {
                        c = c.inhibit_any(rng.below(4) as u32);
                    }
                    if rng.chance(4) {
                        c = c.self_issued();
                    }
                    c
                })
                .collect();
            let inputs = PolicyInputs {
                initial_policy_set: if rng.chance(2) {
                    Vec::new()
                } else {
                    rng.subset(&[P1, P2, P3, ANY])
                },
                initial_explicit_policy: rng.chance(2),
                initial_policy_mapping_inhibit: rng.chance(4),
                initial_any_policy_inhibit: rng.chance(4),
            };
            let graph = run(&inputs, &path);
            let views: Vec<PolicyCert<'_>> = path
                .iter()
                .map(|c| PolicyCert {
                    policies: c.policies.as_ref(),
                    mappings: c.mappings.as_ref(),
                    constraints: c.constraints.as_ref(),
                    inhibit_any_policy: c.inhibit_any_policy,
                    self_issued: c.self_issued,
                })
                .collect();
            let tree = literal_tree::process(&inputs, &views);
            assert_eq!(graph, tree, "inputs {inputs:?}, path {views:?}");
        }
    }
}
