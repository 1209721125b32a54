//! The tiers isolated at layer 4: Brown and Bayko in network namespaces of their own, joined
//! only through the emulator's namespace, which forwards nothing (as the AWS endpoints join the
//! two VPCs and route nothing between them). The pipe still works, and no port of either side
//! is reachable from the other.
//!
//! ```text
//!   test (root ns) ──10.X.3.0/30── brown ──10.X.1.0/30── emulator ──10.X.2.0/30── bayko
//! ```
//!
//! Needs root and iproute2 (CI runs as root); `cargo xtask test` provides the binaries
//! (`BB_TEST_BIN_DIR`) and moto (`BB_TEST_MOTO_SERVER`).

use std::{
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use serde_json::{Value, json};

const BROWN_PORT: u16 = 8080;
const EMULATOR_PORT: u16 = 5000;
/// A listener on every interface of Bayko's namespace, so "nothing of Bayko's is reachable"
/// is tested against a port that is really open (Bayko itself may listen on none).
const CANARY_PORT: u16 = 9100;

#[test]
fn brown_and_bayko_in_separate_namespaces_share_only_the_emulator() {
    if !is_root() {
        assert!(
            std::env::var_os("CI").is_none(),
            "the network-namespace test needs root, and CI runs as root"
        );
        println!("SKIPPED: the network-namespace test needs root (ip netns)");
        return;
    }
    let net = Topology::create();
    let bin = bin_dir();
    let moto = std::env::var("BB_TEST_MOTO_SERVER")
        .expect("BB_TEST_MOTO_SERVER is not set: run the tests with `cargo xtask test`");

    let mut processes = Processes::default();
    processes.spawn(
        &net.emulator,
        moto,
        &["-H", "0.0.0.0", "-p", &EMULATOR_PORT.to_string()],
        &[],
    );
    net.wait_until_open(&net.bayko, &net.emulator_for_bayko(), EMULATOR_PORT);

    let aws = |endpoint: String| {
        vec![
            ("AWS_ENDPOINT_URL".to_owned(), endpoint),
            ("AWS_ACCESS_KEY_ID".into(), "test".into()),
            ("AWS_SECRET_ACCESS_KEY".into(), "test".into()),
            ("AWS_REGION".into(), "us-east-1".into()),
            ("AWS_EC2_METADATA_DISABLED".into(), "true".into()),
            ("BB_NAME_PREFIX".into(), "bb-netns".into()),
            ("BB_TASKS_BUCKET".into(), "bb-netns-tasks".into()),
            ("BB_ARTIFACTS_BUCKET".into(), "bb-netns-artifacts".into()),
        ]
    };
    let bayko_aws = aws(format!(
        "http://{}:{EMULATOR_PORT}",
        net.emulator_for_bayko()
    ));
    let brown_aws = aws(format!(
        "http://{}:{EMULATOR_PORT}",
        net.emulator_for_brown()
    ));

    // Provisioned from Bayko's side, with the same binary as compose's init container.
    let provisioned = net.exec_output(&net.bayko, bin.join("bb-provision"), &[], &bayko_aws);
    let queue_url = provisioned
        .lines()
        .find_map(|line| line.strip_prefix("BAYKO_QUEUE_URL="))
        .expect("bb-provision prints the queue URL")
        .to_owned();

    let (api_key, key_entry) = new_api_key(&bin);
    let mut brown_env = brown_aws.clone();
    brown_env.push(("BROWN_BIND".into(), format!("0.0.0.0:{BROWN_PORT}")));
    brown_env.push(("BROWN_API_KEYS".into(), format!("[{key_entry}]")));
    processes.spawn(&net.brown, bin.join("brown"), &[], &brown_env);
    let mut bayko_env = bayko_aws.clone();
    bayko_env.push(("BAYKO_QUEUE_URL".into(), queue_url));
    bayko_env.push(("BAYKO_WAIT_SECONDS".into(), "1".into()));
    processes.spawn(&net.bayko, bin.join("bayko"), &[], &bayko_env);
    processes.spawn(
        &net.bayko,
        "python3",
        &[
            "-m",
            "http.server",
            &CANARY_PORT.to_string(),
            "--bind",
            "0.0.0.0",
        ],
        &[],
    );
    net.wait_until_open(&net.bayko, "127.0.0.1", CANARY_PORT);

    // The pipe works: a task posted on Brown's public side is finished by Bayko.
    let status = submit_and_wait(
        &format!("http://{}:{BROWN_PORT}", net.brown_public()),
        &api_key,
    );
    assert_eq!(status["status"], "succeeded", "{status}");

    // Bayko reaches the emulator, and nothing of Brown's.
    assert!(net.can_connect(&net.bayko, &net.emulator_for_bayko(), EMULATOR_PORT));
    for address in [net.brown_public(), net.brown_private()] {
        assert!(
            !net.can_connect(&net.bayko, &address, BROWN_PORT),
            "Bayko's namespace reaches Brown at {address}:{BROWN_PORT}"
        );
    }
    // Brown reaches the emulator, and no port open in Bayko's namespace.
    assert!(net.can_connect(&net.brown, &net.emulator_for_brown(), EMULATOR_PORT));
    let bayko_ports = net.listening_ports(&net.bayko);
    assert!(bayko_ports.contains(&CANARY_PORT), "{bayko_ports:?}");
    for port in bayko_ports {
        assert!(
            !net.can_connect(&net.brown, &net.bayko_address(), port),
            "Brown's namespace reaches Bayko's port {port}"
        );
    }
    drop(processes);
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|output| String::from_utf8_lossy(&output.stdout).trim() == "0")
}

/// A key of tenant `default` and the entry that grants it, from `brown keys new` itself.
fn new_api_key(bin: &std::path::Path) -> (String, String) {
    let output = Command::new(bin.join("brown"))
        .args(["keys", "new", "--tenant", "default"])
        .output()
        .expect("running brown keys new");
    assert!(output.status.success(), "brown keys new: {output:?}");
    let text = String::from_utf8(output.stdout).expect("UTF-8");
    let mut values = text
        .lines()
        .filter(|line| line.starts_with("  "))
        .map(|line| line.trim().to_owned());
    let key = values.next().expect("the key");
    let entry = values.next().expect("the entry");
    (key, entry)
}

fn bin_dir() -> PathBuf {
    std::env::var_os("BB_TEST_BIN_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/debug"))
}

fn submit_and_wait(base: &str, api_key: &str) -> Value {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(
            reqwest::header::AUTHORIZATION,
            format!("Bearer {api_key}").parse().unwrap(),
        );
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .default_headers(headers)
            .build()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        let accepted: Value = loop {
            let response = http
                .post(format!("{base}/v1/tasks"))
                .json(&json!({
                    "input": "Process quarterly data analysis request",
                    "data": {"format": "csv", "content": "quarter,revenue\n2025-Q1,100\n2025-Q2,120\n"},
                }))
                .send()
                .await;
            match response {
                Ok(response) if response.status().is_success() => {
                    break response.json().await.unwrap();
                }
                // Brown may still be starting.
                _ if Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(200)).await,
                other => panic!("Brown did not accept the task: {other:?}"),
            }
        };
        let url = format!("{base}{}", accepted["status_url"].as_str().unwrap());
        loop {
            let status: Value = http.get(&url).send().await.unwrap().json().await.unwrap();
            let state = status["status"].as_str().unwrap_or_default();
            if !["queued", "running"].contains(&state) || Instant::now() > deadline {
                return status;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
}

/// Three namespaces and three links, removed when dropped.
struct Topology {
    emulator: String,
    brown: String,
    bayko: String,
    root_link: String,
    subnet: u32,
}

impl Topology {
    fn create() -> Self {
        let id = std::process::id();
        // A second octet per run, so concurrent runs on one machine do not collide.
        let subnet = 100 + id % 100;
        let net = Self {
            emulator: format!("bb{id}-emu"),
            brown: format!("bb{id}-brown"),
            bayko: format!("bb{id}-bayko"),
            root_link: format!("bb{id}-pub"),
            subnet,
        };
        for ns in [&net.emulator, &net.brown, &net.bayko] {
            ip(&["netns", "add", ns]);
            ip(&["-n", ns, "link", "set", "lo", "up"]);
        }
        // The emulator's namespace routes nothing between its two links.
        net.exec_output(
            &net.emulator,
            "sysctl".into(),
            &["-w", "net.ipv4.ip_forward=0"],
            &[],
        );
        net.link(&net.emulator, Some(&net.brown), 1);
        net.link(&net.emulator, Some(&net.bayko), 2);
        net.link(&net.brown, None, 3);
        for (ns, via) in [(&net.brown, 1), (&net.bayko, 2)] {
            ip(&[
                "-n",
                ns,
                "route",
                "add",
                "default",
                "via",
                &net.address(via, 1),
            ]);
        }
        net
    }

    fn address(&self, link: u32, host: u32) -> String {
        format!("10.{}.{link}.{host}", self.subnet)
    }

    /// A /30 between `a` (host 1) and `b` (host 2); `None` is the root namespace, which then
    /// takes host 1 and `a` host 2.
    fn link(&self, a: &str, b: Option<&str>, link: u32) {
        let (one, two) = (
            format!("{}-{link}a", self.root_link),
            format!("{}-{link}b", self.root_link),
        );
        ip(&["link", "add", &one, "type", "veth", "peer", "name", &two]);
        let (host_one_ns, host_two_ns) = match b {
            Some(b) => (Some(a), Some(b)),
            None => (None, Some(a)),
        };
        for (device, ns, host) in [(&one, host_one_ns, 1), (&two, host_two_ns, 2)] {
            let address = format!("{}/30", self.address(link, host));
            match ns {
                Some(ns) => {
                    ip(&["link", "set", device, "netns", ns]);
                    ip(&["-n", ns, "addr", "add", &address, "dev", device]);
                    ip(&["-n", ns, "link", "set", device, "up"]);
                }
                None => {
                    ip(&["addr", "add", &address, "dev", device]);
                    ip(&["link", "set", device, "up"]);
                }
            }
        }
    }

    fn emulator_for_brown(&self) -> String {
        self.address(1, 1)
    }
    fn brown_private(&self) -> String {
        self.address(1, 2)
    }
    fn emulator_for_bayko(&self) -> String {
        self.address(2, 1)
    }
    fn bayko_address(&self) -> String {
        self.address(2, 2)
    }
    fn brown_public(&self) -> String {
        self.address(3, 2)
    }

    fn exec_output(
        &self,
        ns: &str,
        program: PathBuf,
        args: &[&str],
        env: &[(String, String)],
    ) -> String {
        let output = Command::new("ip")
            .args(["netns", "exec", ns])
            .arg(&program)
            .args(args)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .output()
            .unwrap_or_else(|err| panic!("running {} in {ns}: {err}", program.display()));
        assert!(
            output.status.success(),
            "{} in {ns} failed: {}",
            program.display(),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// A TCP connection from inside `ns` (bash's /dev/tcp, at most 3 s).
    fn can_connect(&self, ns: &str, address: &str, port: u16) -> bool {
        Command::new("ip")
            .args(["netns", "exec", ns, "timeout", "3", "bash", "-c"])
            .arg(format!("exec 3<>/dev/tcp/{address}/{port}"))
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    }

    fn wait_until_open(&self, ns: &str, address: &str, port: u16) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !self.can_connect(ns, address, port) {
            assert!(
                Instant::now() < deadline,
                "{address}:{port} never opened in {ns}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The TCP ports listening in `ns`, from its own /proc/net/tcp{,6}.
    fn listening_ports(&self, ns: &str) -> Vec<u16> {
        let mut ports = Vec::new();
        for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
            let listing = self.exec_output(ns, "cat".into(), &[table], &[]);
            for line in listing.lines().skip(1) {
                let fields: Vec<&str> = line.split_whitespace().collect();
                // State 0A is LISTEN; the local address is HEXIP:HEXPORT.
                if fields.get(3) == Some(&"0A") {
                    let port = fields[1].rsplit(':').next().unwrap();
                    ports.push(u16::from_str_radix(port, 16).unwrap());
                }
            }
        }
        ports.sort_unstable();
        ports.dedup();
        ports
    }
}

impl Drop for Topology {
    fn drop(&mut self) {
        for ns in [&self.emulator, &self.brown, &self.bayko] {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
        let _ = Command::new("ip")
            .args(["link", "del", &format!("{}-3b", self.root_link)])
            .stderr(Stdio::null())
            .status();
    }
}

fn ip(args: &[&str]) {
    let status = Command::new("ip")
        .args(args)
        .status()
        .expect("running ip (iproute2)");
    assert!(status.success(), "ip {} failed", args.join(" "));
}

/// Processes started inside namespaces, killed when dropped.
#[derive(Default)]
struct Processes(Vec<Child>);

impl Processes {
    fn spawn(
        &mut self,
        ns: &str,
        program: impl Into<PathBuf>,
        args: &[&str],
        env: &[(String, String)],
    ) {
        let program = program.into();
        let child = Command::new("ip")
            .args(["netns", "exec", ns])
            .arg(&program)
            .args(args)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|err| panic!("starting {} in {ns}: {err}", program.display()));
        self.0.push(child);
    }
}

impl Drop for Processes {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
