//! Parsers for compose's small value languages (byte sizes, CPUs, durations, ports) and
//! printers for the Kubernetes quantities they become.
//!
//! Numbers are read as exact decimal text instead of through `f64`, so `0.3` CPUs or
//! `1.1g` give the same answer everywhere and a value at a limit never rounds past it.
// Long because each of compose's unit languages comes with its printer and its tests;
// the parsers share the exact-decimal reading, so they stay together.

use std::net::IpAddr;
use std::time::Duration;

use super::value::ComposeText;

pub use super::limits::MAX_PORTS_PER_RANGE;

/// No node has more; anything larger is a typo (e.g. millicores written as cpus).
const MAX_CPUS: u64 = 4096;

const MAX_DURATION: Duration = Duration::from_secs(365 * 24 * 60 * 60);

/// A decimal number as written: `12`, `1.5`, `.5`, `2.`.
struct Decimal<'a> {
    whole: &'a str,
    fraction: Option<&'a str>,
}

impl Decimal<'_> {
    fn has_digits(&self) -> bool {
        !self.whole.is_empty() || self.fraction.is_some_and(|f| !f.is_empty())
    }
}

/// Splits the leading decimal number off `text`, returning it and what follows (a unit).
fn split_decimal(text: &str) -> (Decimal<'_>, &str) {
    let (whole, rest) = split_digits(text);
    match rest.strip_prefix('.') {
        Some(after) => {
            let (fraction, rest) = split_digits(after);
            (Decimal { whole, fraction: Some(fraction) }, rest)
        }
        None => (Decimal { whole, fraction: None }, rest),
    }
}

fn split_digits(text: &str) -> (&str, &str) {
    text.split_at(text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len()))
}

/// `number × unit` rounded down, and whether no rounding happened; `None` on overflow.
///
/// The fraction is folded in from its last digit with a carry, which is exact for any
/// number of digits (floor(floor(x) / 10) = floor(x / 10)) and never overflows.
fn scale(number: &Decimal, unit: u64) -> Option<(u64, bool)> {
    let mut whole: u64 = 0;
    for c in number.whole.chars() {
        whole = whole.checked_mul(10)?.checked_add(u64::from(c.to_digit(10)?))?;
    }
    let mut carry: u64 = 0;
    let mut exact = true;
    for c in number.fraction.unwrap_or("").chars().rev() {
        let numerator = u64::from(c.to_digit(10)?).checked_mul(unit)?.checked_add(carry)?;
        exact &= numerator.is_multiple_of(10);
        carry = numerator / 10;
    }
    Some((whole.checked_mul(unit)?.checked_add(carry)?, exact))
}

/// A byte size as compose writes it (`512m`, `1.5g`, `1024`), in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ByteSize(pub u64);

impl From<ByteSize> for u64 {
    fn from(size: ByteSize) -> u64 {
        size.0
    }
}

impl ComposeText for ByteSize {
    const FROM_SCALAR: bool = true;
    fn parse(text: &str) -> Result<Self, String> {
        parse_bytes(text).map(ByteSize)
    }
}

/// A number of CPUs as compose writes it (`0.5`, `2`), in millicores.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Millicores(pub u64);

impl From<Millicores> for u64 {
    fn from(cpus: Millicores) -> u64 {
        cpus.0
    }
}

impl ComposeText for Millicores {
    const FROM_SCALAR: bool = true;
    fn parse(text: &str) -> Result<Self, String> {
        parse_cpus(text).map(Millicores)
    }
}

/// A duration as compose writes it (`1m30s`), only ever as a string.
impl ComposeText for Duration {
    const FROM_SCALAR: bool = false;
    fn parse(text: &str) -> Result<Self, String> {
        parse_duration(text)
    }
}

/// Parses a compose byte size. Every suffix is binary, as in docker (`1k` = 1024,
/// `1gb` = 1 GiB); fractions are rounded down to whole bytes.
pub fn parse_bytes(text: &str) -> Result<u64, String> {
    if text.starts_with('-') {
        return Err(format!("`{text}` is negative; a byte size must be 0 or more"));
    }
    let invalid = || format!("`{text}` is not a byte size (use e.g. 512m, 1.5g, 1024)");
    let (number, suffix) = split_decimal(text);
    // As docker's parser: digits before the point, and after it when there is one.
    if number.whole.is_empty() || number.fraction == Some("") {
        return Err(invalid());
    }
    let shift = match suffix.to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "ki" | "kib" => 10,
        "m" | "mb" | "mi" | "mib" => 20,
        "g" | "gb" | "gi" | "gib" => 30,
        "t" | "tb" | "ti" | "tib" => 40,
        _ => return Err(invalid()),
    };
    scale(&number, 1 << shift).map(|(bytes, _)| bytes).ok_or_else(|| format!("`{text}` is too large a byte size"))
}

/// The exact Kubernetes quantity for a byte count, in the largest binary unit that
/// divides it (`50Mi`, `1536Mi`, `1000`).
pub fn bytes_quantity(bytes: u64) -> String {
    if bytes == 0 {
        return "0".to_string();
    }
    for (suffix, shift) in [("Ti", 40), ("Gi", 30), ("Mi", 20), ("Ki", 10)] {
        let unit = 1u64 << shift;
        if bytes.is_multiple_of(unit) {
            return format!("{}{suffix}", bytes / unit);
        }
    }
    bytes.to_string()
}

/// Parses compose `cpus` into millicores, rounding up so a tiny limit never becomes 0
/// (which callers read as "no limit").
pub fn parse_cpus(text: &str) -> Result<u64, String> {
    if text.starts_with('-') {
        return Err(format!("`{text}` is negative; cpus must be 0 or more"));
    }
    let (number, rest) = split_decimal(text);
    if !rest.is_empty() || !number.has_digits() {
        return Err(format!("`{text}` is not a number of CPUs (use e.g. 0.5, 1, 2)"));
    }
    let too_many = || format!("`{text}` CPUs is more than the {MAX_CPUS} allowed");
    let (floor, exact) = scale(&number, 1000).ok_or_else(too_many)?;
    let millicores = if exact { floor } else { floor.checked_add(1).ok_or_else(too_many)? };
    if millicores > MAX_CPUS * 1000 {
        return Err(too_many());
    }
    Ok(millicores)
}

/// The Kubernetes CPU quantity: whole cores when exact (`2`), else millicores (`1500m`).
pub fn millicores_quantity(millicores: u64) -> String {
    if millicores.is_multiple_of(1000) { (millicores / 1000).to_string() } else { format!("{millicores}m") }
}

/// Parses a duration in Go's `time.ParseDuration` syntax, as compose does (`1m30s`,
/// `1.5s`, `100ms`). Fractions below a nanosecond are dropped, as in Go.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    if text.starts_with('-') {
        return Err(format!("`{text}` is negative; a duration must be 0 or more"));
    }
    let unsigned = text.strip_prefix('+').unwrap_or(text);
    if unsigned == "0" {
        return Ok(Duration::ZERO);
    }
    let invalid = || format!("`{text}` is not a duration (use e.g. 30s, 1m30s, 1.5s, 100ms)");
    let too_long = || format!("`{text}` is longer than the 1 year allowed");
    if unsigned.is_empty() {
        return Err(invalid());
    }
    let mut rest = unsigned;
    let mut nanos: u64 = 0;
    while !rest.is_empty() {
        let (number, after) = split_decimal(rest);
        if !number.has_digits() {
            return Err(invalid());
        }
        let (unit, after) = after.split_at(after.find(|c: char| c == '.' || c.is_ascii_digit()).unwrap_or(after.len()));
        if unit.is_empty() {
            // Compose-go refuses `stop_grace_period: 30`; say how to fix it.
            return Err(if after.is_empty() { format!("`{text}` has no unit; add one, e.g. {text}s") } else { invalid() });
        }
        let unit_nanos = match unit {
            "ns" => 1,
            "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60 * 1_000_000_000,
            "h" => 60 * 60 * 1_000_000_000,
            _ => return Err(invalid()),
        };
        let (part, _) = scale(&number, unit_nanos).ok_or_else(too_long)?;
        nanos = nanos.checked_add(part).ok_or_else(too_long)?;
        rest = after;
    }
    let duration = Duration::from_nanos(nanos);
    if duration > MAX_DURATION {
        return Err(too_long());
    }
    Ok(duration)
}

/// Whole seconds, rounded up so a timeout is never shortened.
pub fn ceil_seconds(duration: Duration) -> i64 {
    let whole = i64::try_from(duration.as_secs()).unwrap_or(i64::MAX);
    if duration.subsec_nanos() > 0 { whole.saturating_add(1) } else { whole }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Protocol {
    #[default]
    Tcp,
    Udp,
    Sctp,
}

/// A port's protocol, as `ports[].protocol` writes it.
impl ComposeText for Protocol {
    const FROM_SCALAR: bool = false;
    fn parse(text: &str) -> Result<Self, String> {
        Protocol::parse(text)
    }
}

/// An `extra_hosts` address: an IP address (IPv6 possibly in brackets), or Docker's
/// `host-gateway`, the Docker host's own address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HostAddress {
    Ip(IpAddr),
    HostGateway,
}

impl ComposeText for HostAddress {
    const FROM_SCALAR: bool = false;
    const HINT: Option<&'static str> = Some("extra_hosts maps a host name to an address, e.g. db:10.0.0.5");
    fn parse(text: &str) -> Result<Self, String> {
        let address = text.trim_start_matches('[').trim_end_matches(']');
        if address == "host-gateway" {
            return Ok(HostAddress::HostGateway);
        }
        address.parse().map(HostAddress::Ip).map_err(|_| format!("`{address}` is not an IP address"))
    }
}

/// A config or secret file's mode. Compose writes it octal (`0440`, which YAML 1.1 already
/// read as the number 288) or decimal; digits 0-7 without the leading 0 (`440`) are no mode
/// as a decimal number and are read as octal, which validation warns about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileMode {
    pub mode: i32,
    pub octal_without_zero: bool,
}

impl ComposeText for FileMode {
    const FROM_SCALAR: bool = true;
    fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let parsed = match text.strip_prefix("0o").or_else(|| text.strip_prefix('0').filter(|rest| !rest.is_empty())) {
            Some(octal) => i32::from_str_radix(octal, 8),
            None => text.parse(),
        };
        match parsed.ok().filter(|mode| (0..=0o777).contains(mode)) {
            Some(mode) => Ok(FileMode { mode, octal_without_zero: false }),
            None if text.chars().all(|c| ('0'..='7').contains(&c)) && (1..=4).contains(&text.len()) => i32::from_str_radix(text, 8)
                .ok()
                .filter(|mode| (0..=0o777).contains(mode))
                .map(|mode| FileMode { mode, octal_without_zero: true })
                .ok_or_else(|| format!("`{text}` is not a file mode between 0 and 0777")),
            None => Err(format!("`{text}` is not a file mode between 0 and 0777")),
        }
    }
}

/// One `expose` entry: a port or a range, each with its protocol.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExposedPorts(pub Vec<(u16, Protocol)>);

impl ComposeText for ExposedPorts {
    const FROM_SCALAR: bool = true;
    fn parse(text: &str) -> Result<Self, String> {
        parse_expose(text).map(ExposedPorts)
    }
}

impl Protocol {
    pub fn parse(text: &str) -> Result<Protocol, String> {
        match text.to_ascii_lowercase().as_str() {
            "tcp" => Ok(Protocol::Tcp),
            "udp" => Ok(Protocol::Udp),
            "sctp" => Ok(Protocol::Sctp),
            _ => Err(format!("unknown protocol `{text}` (use tcp, udp or sctp)")),
        }
    }

    pub fn as_kubernetes(&self) -> &'static str {
        match self {
            Protocol::Tcp => "TCP",
            Protocol::Udp => "UDP",
            Protocol::Sctp => "SCTP",
        }
    }

    pub fn as_compose(&self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Sctp => "sctp",
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PortMapping {
    pub target: u16,
    /// The published port, or the host range Docker picks a free port from.
    pub published: Option<(u16, u16)>,
    /// Without the brackets an IPv6 address is written in.
    pub host_ip: Option<String>,
    pub protocol: Protocol,
    /// `ingress` or `host` (long syntax only).
    pub mode: Option<String>,
    pub name: Option<String>,
    pub app_protocol: Option<String>,
}

fn parse_port(text: &str) -> Result<u16, String> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("`{text}` is not a port number"));
    }
    match text.parse::<u16>() {
        Ok(port) if port > 0 => Ok(port),
        _ => Err(format!("port `{text}` is out of range; ports are 1-65535")),
    }
}

/// A port or an inclusive `start-end` range.
pub fn parse_port_range(text: &str) -> Result<(u16, u16), String> {
    let (start, end) = match text.split_once('-') {
        Some((start, end)) => (parse_port(start)?, parse_port(end)?),
        None => {
            let port = parse_port(text)?;
            (port, port)
        }
    };
    if start > end {
        return Err(format!("port range `{text}` is reversed; write the lower port first"));
    }
    Ok((start, end))
}

fn range_len((start, end): (u16, u16)) -> usize {
    usize::from(end.abs_diff(start)) + 1
}

fn check_range_len(range: (u16, u16), text: &str) -> Result<(), String> {
    let len = range_len(range);
    if len > usize::from(MAX_PORTS_PER_RANGE) {
        return Err(format!(
            "`{text}` is {len} ports; at most {MAX_PORTS_PER_RANGE} are accepted in one range because each \
             becomes a Service port (list the ports actually used)"
        ));
    }
    Ok(())
}

/// Splits `ports/protocol`; no protocol, or an empty one as docker allows, is TCP.
fn split_protocol(text: &str) -> Result<(&str, Protocol), String> {
    match text.split_once('/') {
        Some((ports, protocol)) if !protocol.is_empty() => Ok((ports, Protocol::parse(protocol)?)),
        Some((ports, _)) => Ok((ports, Protocol::Tcp)),
        None => Ok((text, Protocol::Tcp)),
    }
}

fn parse_host_ip(text: &str) -> Result<Option<String>, String> {
    if text.is_empty() {
        return Ok(None);
    }
    let address = match text.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
        Some(inner) => inner,
        None if text.contains(':') => {
            return Err(format!("write the IPv6 address `{text}` in brackets, e.g. [::1]:8080:80"));
        }
        None => text,
    };
    address.parse::<IpAddr>().map(|_| Some(address.to_string())).map_err(|_| format!("`{text}` is not an IP address"))
}

/// Parses the short port syntax `[HOST_IP:][HOST_PORT[-RANGE]:]CONTAINER_PORT[-RANGE][/PROTOCOL]`.
pub fn parse_port_short(text: &str) -> Result<Vec<PortMapping>, String> {
    parse_port_parts(text).map_err(|reason| format!("invalid port mapping `{text}`: {reason}"))
}

fn parse_port_parts(text: &str) -> Result<Vec<PortMapping>, String> {
    let (spec, protocol) = split_protocol(text)?;
    // Split from the right, as docker does, so the host IP keeps an IPv6 address's colons.
    let (host, target) = match spec.rsplit_once(':') {
        Some((host, target)) => (Some(host), target),
        None => (None, spec),
    };
    let (host_ip, published) = match host {
        None => ("", ""),
        Some(host) => host.rsplit_once(':').unwrap_or(("", host)),
    };
    let host_ip = parse_host_ip(host_ip)?;
    let targets = parse_port_range(target)?;
    check_range_len(targets, target)?;
    let mapping = |target: u16, published: Option<(u16, u16)>| PortMapping { target, published, host_ip: host_ip.clone(), protocol, ..Default::default() };
    if published.is_empty() {
        return Ok((targets.0..=targets.1).map(|target| mapping(target, None)).collect());
    }
    let publishes = parse_port_range(published)?;
    if targets.0 == targets.1 {
        // Docker binds one free port of a host range.
        return Ok(vec![mapping(targets.0, Some(publishes))]);
    }
    if range_len(publishes) != range_len(targets) {
        return Err(format!("{} container ports need a host range of the same length, not {}", range_len(targets), range_len(publishes)));
    }
    Ok((targets.0..=targets.1).zip(publishes.0..=publishes.1).map(|(target, published)| mapping(target, Some((published, published)))).collect())
}

/// Parses an `expose` entry: a port or range with an optional protocol.
pub fn parse_expose(text: &str) -> Result<Vec<(u16, Protocol)>, String> {
    let parts = || -> Result<Vec<(u16, Protocol)>, String> {
        let (ports, protocol) = split_protocol(text)?;
        let range = parse_port_range(ports)?;
        check_range_len(range, ports)?;
        Ok((range.0..=range.1).map(|port| (port, protocol)).collect())
    };
    parts().map_err(|reason| format!("invalid exposed port `{text}`: {reason}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn mapping(target: u16, published: Option<u16>, host_ip: Option<&str>, protocol: Protocol) -> PortMapping {
        PortMapping { target, published: published.map(|p| (p, p)), host_ip: host_ip.map(str::to_string), protocol, ..Default::default() }
    }

    fn tcp(target: u16, published: Option<u16>) -> PortMapping {
        mapping(target, published, None, Protocol::Tcp)
    }

    #[test]
    fn file_modes_read_octal_and_decimal() {
        let mode = |text: &str| FileMode::parse(text).map(|m| (m.mode, m.octal_without_zero));
        assert_eq!(mode("0440"), Ok((0o440, false)));
        assert_eq!(mode("288"), Ok((0o440, false)));
        assert_eq!(mode("0o755"), Ok((0o755, false)));
        assert_eq!(mode("644"), Ok((0o644, true)));
        assert!(mode("0999").is_err());
        assert!(mode("4096").is_err());
        assert!(mode("7777").is_err(), "0o7777 is more than a Kubernetes file mode takes");
    }

    #[test]
    fn bytes_suffixes_are_binary() {
        assert_eq!(parse_bytes("1024"), Ok(1024));
        assert_eq!(parse_bytes("0"), Ok(0));
        assert_eq!(parse_bytes("12b"), Ok(12));
        assert_eq!(parse_bytes("1k"), Ok(1024));
        assert_eq!(parse_bytes("1KB"), Ok(1024));
        assert_eq!(parse_bytes("2kib"), Ok(2048));
        assert_eq!(parse_bytes("50M"), Ok(50 << 20));
        assert_eq!(parse_bytes("50mb"), Ok(50 << 20));
        assert_eq!(parse_bytes("50Mi"), Ok(50 << 20));
        assert_eq!(parse_bytes("1GB"), Ok(1 << 30));
        assert_eq!(parse_bytes("1gib"), Ok(1 << 30));
        assert_eq!(parse_bytes("1.5g"), Ok(1_610_612_736));
        assert_eq!(parse_bytes("2t"), Ok(2 << 40));
        assert_eq!(parse_bytes("2TiB"), Ok(2 << 40));
    }

    #[test]
    fn byte_fractions_round_down() {
        assert_eq!(parse_bytes("1.1k"), Ok(1126));
        assert_eq!(parse_bytes("0.5b"), Ok(0));
        assert_eq!(parse_bytes("0.0000000000000000000000001t"), Ok(0));
        assert_eq!(parse_bytes("1.99999999999999999999999999m"), Ok((2 << 20) - 1));
    }

    #[test]
    fn bad_byte_sizes_are_refused() {
        for text in ["", "12x", "m", "-1", "-1m", "1.m", ".5g", "NaN", "inf", "1 m", " 1m", "1e3", "1mm", "1.2.3m"] {
            assert!(parse_bytes(text).is_err(), "{text:?} was accepted");
        }
        assert_eq!(parse_bytes("1.5"), Ok(1));
        assert_eq!(parse_bytes("12x").unwrap_err(), "`12x` is not a byte size (use e.g. 512m, 1.5g, 1024)");
        assert!(parse_bytes("-1m").unwrap_err().contains("negative"));
        assert_eq!(parse_bytes("18446744073709551615"), Ok(u64::MAX));
        assert!(parse_bytes("18446744073709551616").unwrap_err().contains("too large"));
        assert!(parse_bytes("16777216t").unwrap_err().contains("too large"));
    }

    #[test]
    fn byte_quantities_use_the_largest_exact_unit() {
        assert_eq!(bytes_quantity(0), "0");
        assert_eq!(bytes_quantity(1000), "1000");
        assert_eq!(bytes_quantity(1536), "1536");
        assert_eq!(bytes_quantity(52_428_800), "50Mi");
        assert_eq!(bytes_quantity(1_610_612_736), "1536Mi");
        assert_eq!(bytes_quantity(1_073_741_824), "1Gi");
        assert_eq!(bytes_quantity(3 << 40), "3Ti");
        assert_eq!(bytes_quantity(u64::MAX), u64::MAX.to_string());
    }

    #[test]
    fn cpus_become_millicores_rounded_up() {
        assert_eq!(parse_cpus("0.1"), Ok(100));
        assert_eq!(parse_cpus("1"), Ok(1000));
        assert_eq!(parse_cpus("1.5"), Ok(1500));
        assert_eq!(parse_cpus("0.25"), Ok(250));
        assert_eq!(parse_cpus("2"), Ok(2000));
        assert_eq!(parse_cpus("0"), Ok(0));
        assert_eq!(parse_cpus("0.0001"), Ok(1));
        assert_eq!(parse_cpus(".5"), Ok(500));
        assert_eq!(parse_cpus("2."), Ok(2000));
        assert_eq!(parse_cpus("0.30000000000000004"), Ok(301));
        assert_eq!(parse_cpus("4096"), Ok(4_096_000));
    }

    #[test]
    fn bad_cpus_are_refused() {
        for text in ["", ".", "-1", "-0.5", "abc", "1e3", "1.5.1", " 1", "1 ", "NaN", "two"] {
            assert!(parse_cpus(text).is_err(), "{text:?} was accepted");
        }
        assert!(parse_cpus("-1").unwrap_err().contains("negative"));
        assert!(parse_cpus("4096.0001").unwrap_err().contains("4096"));
        assert!(parse_cpus("5000").is_err());
        assert!(parse_cpus("99999999999999999999999").is_err());
    }

    #[test]
    fn millicore_quantities() {
        assert_eq!(millicores_quantity(1000), "1");
        assert_eq!(millicores_quantity(2000), "2");
        assert_eq!(millicores_quantity(1500), "1500m");
        assert_eq!(millicores_quantity(100), "100m");
        assert_eq!(millicores_quantity(0), "0");
    }

    #[test]
    fn durations_follow_go_syntax() {
        let ms = Duration::from_millis;
        assert_eq!(parse_duration("1m30s"), Ok(ms(90_000)));
        assert_eq!(parse_duration("1.5s"), Ok(ms(1_500)));
        assert_eq!(parse_duration("10ms"), Ok(ms(10)));
        assert_eq!(parse_duration("1h"), Ok(ms(3_600_000)));
        assert_eq!(parse_duration("2h45m"), Ok(ms(9_900_000)));
        assert_eq!(parse_duration("100us"), Ok(Duration::from_micros(100)));
        assert_eq!(parse_duration("100µs"), Ok(Duration::from_micros(100)));
        assert_eq!(parse_duration("100μs"), Ok(Duration::from_micros(100)));
        assert_eq!(parse_duration("5ns"), Ok(Duration::from_nanos(5)));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert_eq!(parse_duration(".5s"), Ok(ms(500)));
        assert_eq!(parse_duration("1.s"), Ok(ms(1_000)));
        assert_eq!(parse_duration("+2s"), Ok(ms(2_000)));
        assert_eq!(parse_duration("1.0000000001s"), Ok(ms(1_000)));
        assert_eq!(parse_duration("8760h"), Ok(MAX_DURATION));
    }

    #[test]
    fn bad_durations_are_refused() {
        assert_eq!(parse_duration("30").unwrap_err(), "`30` has no unit; add one, e.g. 30s");
        assert!(parse_duration("1m30").unwrap_err().contains("no unit"));
        for text in ["", "s", "-1s", "-0", "1x", "1S", "1.2.3s", ".s", "1 s", "1s ", "+", "1d", "NaN"] {
            assert!(parse_duration(text).is_err(), "{text:?} was accepted");
        }
        assert!(parse_duration("-5s").unwrap_err().contains("negative"));
        assert!(parse_duration("8761h").unwrap_err().contains("1 year"));
        assert!(parse_duration("99999999999999999999h").unwrap_err().contains("1 year"));
        assert!(parse_duration(&"9000h".repeat(10_000)).unwrap_err().contains("1 year"));
    }

    #[test]
    fn seconds_round_up_and_saturate() {
        assert_eq!(ceil_seconds(Duration::from_millis(1_200)), 2);
        assert_eq!(ceil_seconds(Duration::from_secs(3)), 3);
        assert_eq!(ceil_seconds(Duration::ZERO), 0);
        assert_eq!(ceil_seconds(Duration::from_nanos(1)), 1);
        assert_eq!(ceil_seconds(Duration::MAX), i64::MAX);
        assert_eq!(ceil_seconds(Duration::from_secs(i64::MAX as u64)), i64::MAX);
    }

    #[test]
    fn protocols() {
        assert_eq!(Protocol::parse("tcp"), Ok(Protocol::Tcp));
        assert_eq!(Protocol::parse("UDP"), Ok(Protocol::Udp));
        assert_eq!(Protocol::parse("sctp"), Ok(Protocol::Sctp));
        assert!(Protocol::parse("icmp").unwrap_err().contains("icmp"));
        assert_eq!(Protocol::Udp.as_kubernetes(), "UDP");
        assert_eq!(Protocol::Sctp.as_compose(), "sctp");
    }

    #[test]
    fn short_ports() {
        assert_eq!(parse_port_short("3000"), Ok(vec![tcp(3000, None)]));
        assert_eq!(parse_port_short("12400"), Ok(vec![tcp(12400, None)]));
        assert_eq!(parse_port_short("3000-3005"), Ok((3000..=3005).map(|p| tcp(p, None)).collect()));
        assert_eq!(parse_port_short("8000:8000"), Ok(vec![tcp(8000, Some(8000))]));
        assert_eq!(parse_port_short("9090-9091:8080-8081"), Ok(vec![tcp(8080, Some(9090)), tcp(8081, Some(9091))]));
        assert_eq!(parse_port_short("49100:22"), Ok(vec![tcp(22, Some(49100))]));
        assert_eq!(parse_port_short("8000-8010:80"), Ok(vec![PortMapping { published: Some((8000, 8010)), ..tcp(80, None) }]));
        assert_eq!(parse_port_short("127.0.0.1:8001:8001"), Ok(vec![mapping(8001, Some(8001), Some("127.0.0.1"), Protocol::Tcp)]));
        assert_eq!(
            parse_port_short("127.0.0.1:5000-5010:5000-5010"),
            Ok((5000..=5010).map(|p| mapping(p, Some(p), Some("127.0.0.1"), Protocol::Tcp)).collect())
        );
        assert_eq!(parse_port_short("127.0.0.1::5000"), Ok(vec![mapping(5000, None, Some("127.0.0.1"), Protocol::Tcp)]));
        assert_eq!(parse_port_short("6060:6060/udp"), Ok(vec![mapping(6060, Some(6060), None, Protocol::Udp)]));
        assert_eq!(parse_port_short("[::1]:6001:6001"), Ok(vec![mapping(6001, Some(6001), Some("::1"), Protocol::Tcp)]));
        assert_eq!(parse_port_short("80/"), Ok(vec![tcp(80, None)]));
        assert_eq!(parse_port_short(":80"), Ok(vec![tcp(80, None)]));
        assert_eq!(parse_port_short("5000-5099"), Ok((5000..=5099).map(|p| tcp(p, None)).collect()));
    }

    #[test]
    fn bad_short_ports() {
        for text in [
            "",
            "0",
            "65536",
            "0:80",
            "80:0",
            "99999:80",
            "3005-3000",
            "80:3005-3000",
            "8080-8081:80-82",
            "8080:80-81",
            "80/icmp",
            "80/tcp/udp",
            "abc",
            "80:abc",
            "a:b:c",
            "::1:80:80",
            "1.2.3:80:80",
            "[::1:80:80",
            "-80",
            "80-",
            "+80",
            " 80",
            "1-65535",
            "5000-5100",
        ] {
            assert!(parse_port_short(text).is_err(), "{text:?} was accepted");
        }
        assert!(parse_port_short("0").unwrap_err().contains("1-65535"));
        assert!(parse_port_short("3005-3000").unwrap_err().contains("reversed"));
        assert!(parse_port_short("8080-8081:80-82").unwrap_err().contains("same length"));
        assert!(parse_port_short("80/icmp").unwrap_err().contains("unknown protocol"));
        assert!(parse_port_short("1-65535").unwrap_err().contains("Service port"));
        assert!(parse_port_short("::1:80:80").unwrap_err().contains("brackets"));
    }

    #[test]
    fn port_ranges() {
        assert_eq!(parse_port_range("80"), Ok((80, 80)));
        assert_eq!(parse_port_range("8000-8010"), Ok((8000, 8010)));
        assert_eq!(parse_port_range("1-65535"), Ok((1, 65535)));
        for text in ["", "0", "0-5", "10-5", "65536", "1-2-3", "a-b", "-"] {
            assert!(parse_port_range(text).is_err(), "{text:?} was accepted");
        }
    }

    #[test]
    fn expose_entries() {
        assert_eq!(parse_expose("3000"), Ok(vec![(3000, Protocol::Tcp)]));
        assert_eq!(parse_expose("8000-8010"), Ok((8000..=8010).map(|p| (p, Protocol::Tcp)).collect()));
        assert_eq!(parse_expose("80/udp"), Ok(vec![(80, Protocol::Udp)]));
        for text in ["", "0", "80/icmp", "80:80", "1000-2000", "abc"] {
            assert!(parse_expose(text).is_err(), "{text:?} was accepted");
        }
    }

    proptest! {
        #[test]
        fn mebibytes_scale(n in 0u64..1_000_000) {
            prop_assert_eq!(parse_bytes(&format!("{n}m")), Ok(n * 1024 * 1024));
        }

        #[test]
        fn byte_quantities_round_trip(
            bytes in prop_oneof![
                any::<u64>(),
                (0u64..1 << 20).prop_map(|n| n << 10),
                (0u64..1 << 20).prop_map(|n| n << 20),
                (0u64..1 << 20).prop_map(|n| n << 30),
                (0u64..1 << 20).prop_map(|n| n << 40),
            ]
        ) {
            let quantity = bytes_quantity(bytes);
            let (number, shift) = [("Ti", 40), ("Gi", 30), ("Mi", 20), ("Ki", 10)]
                .iter()
                .find_map(|(suffix, shift)| quantity.strip_suffix(suffix).map(|n| (n, *shift)))
                .unwrap_or((quantity.as_str(), 0));
            let number: u64 = number.parse().unwrap();
            prop_assert_eq!(number.checked_mul(1 << shift), Some(bytes));
            // The largest unit: the number is not itself a multiple of 1024 unless it is in Ti.
            prop_assert!(bytes == 0 || shift == 40 || !number.is_multiple_of(1024));
            prop_assert_eq!(parse_bytes(&quantity), Ok(bytes));
        }

        #[test]
        fn printed_cpus_parse_exactly(x in 0.0f64..64.0) {
            let printed = format!("{x:.3}");
            let expected: u64 = printed.replace('.', "").parse().unwrap();
            prop_assert_eq!(parse_cpus(&printed), Ok(expected));
            let finer = format!("{x:.6}");
            let micro: u64 = finer.replace('.', "").parse().unwrap();
            prop_assert_eq!(parse_cpus(&finer), Ok(micro.div_ceil(1000)));
        }

        #[test]
        fn composite_durations_add_up(h in 0u64..1000, m in 0u64..60, s in 0u64..60) {
            prop_assert_eq!(
                parse_duration(&format!("{h}h{m}m{s}s")),
                Ok(Duration::from_secs(h * 3600 + m * 60 + s))
            );
        }

        #[test]
        fn parsers_never_panic(text in any::<String>()) {
            let _ = parse_bytes(&text);
            let _ = parse_cpus(&text);
            let _ = parse_duration(&text);
            let _ = parse_port_short(&text);
            let _ = parse_port_range(&text);
            let _ = parse_expose(&text);
            let _ = Protocol::parse(&text);
        }

        #[test]
        fn parsers_never_panic_on_likely_text(text in "[0-9.:/\\-\\[\\]a-zµ+]{0,24}") {
            let _ = parse_bytes(&text);
            let _ = parse_cpus(&text);
            let _ = parse_duration(&text);
            let _ = parse_port_short(&text);
            let _ = parse_expose(&text);
        }

        #[test]
        fn parsers_never_panic_on_regex_text(text in ".*") {
            let _ = parse_bytes(&text);
            let _ = parse_cpus(&text);
            let _ = parse_duration(&text);
            let _ = parse_port_short(&text);
            let _ = parse_expose(&text);
        }
    }
}
