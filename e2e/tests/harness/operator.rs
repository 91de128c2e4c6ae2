//! The operator under test: the real `compose-operator run` binary as a child process,
//! out of cluster, watching only the test's namespace. Its log goes to a file that is
//! printed if the test fails.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use super::kubeconfig;

pub struct Operator {
    child: Child,
    pub log: PathBuf,
}

impl Operator {
    /// The operator watching one namespace; `--requeue-seconds 30` unless `extra_args` say.
    pub fn start(namespace: &str, extra_args: &[&str]) -> Operator {
        Operator::spawn(namespace, &["--namespace", namespace], extra_args, "info,compose_operator=debug")
    }

    /// The operator watching every namespace (the scale run), logging at info.
    pub fn start_all(extra_args: &[&str]) -> Operator {
        Operator::spawn("all-namespaces", &[], extra_args, "info")
    }

    fn spawn(log_name: &str, scope: &[&str], extra_args: &[&str], log_level: &str) -> Operator {
        let log_dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("operator-logs");
        std::fs::create_dir_all(&log_dir).expect("log dir");
        let log =
            log_dir.join(format!("{log_name}-{}.log", std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_millis()));
        let file = std::fs::File::create(&log).expect("log file");
        let requeue: &[&str] = if extra_args.contains(&"--requeue-seconds") { &[] } else { &["--requeue-seconds", "30"] };
        // A profiler to run the operator under (`valgrind --tool=massif …`), for measuring.
        let wrapper = std::env::var("COMPOSE_OPERATOR_E2E_WRAP").unwrap_or_default();
        let mut wrapper = wrapper.split_whitespace();
        let mut command = match wrapper.next() {
            Some(program) => {
                let mut command = Command::new(program);
                command.args(wrapper).arg(env!("CARGO_BIN_EXE_compose-operator"));
                command
            }
            None => Command::new(env!("CARGO_BIN_EXE_compose-operator")),
        };
        let child = command
            .args(["run", "--metrics-addr", "127.0.0.1:0"])
            .args(scope)
            .args(requeue)
            .args(extra_args)
            .env("KUBECONFIG", kubeconfig())
            .env("RUST_LOG", log_level)
            .stdout(Stdio::from(file.try_clone().expect("log file")))
            .stderr(Stdio::from(file))
            .spawn()
            .expect("start compose-operator run");
        Operator { child, log }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The process has not exited (no crash, no abort, no restart needed).
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// SIGKILL: no chance to clean up, as a crashed or evicted operator.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, as Kubernetes stops a pod; waits for the process to exit.
    pub fn terminate(&mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let _ = self.child.wait();
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        if std::env::var_os("COMPOSE_OPERATOR_E2E_WRAP").is_some() {
            // A profiler writes its report when the process exits by itself.
            self.terminate();
        }
        self.kill();
        if std::thread::panicking() {
            eprintln!("---- operator log ({}) ----\n{}", self.log.display(), self.log_text());
        }
    }
}
