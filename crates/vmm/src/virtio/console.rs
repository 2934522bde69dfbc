//! virtio-console with VIRTIO_CONSOLE_F_MULTIPORT, i.e. virtio-serial
//! (virtio 1.x, 5.3): named ports that the guest sees in
//! `/sys/class/virtio-ports/*/name`, each joined on the host to a Unix
//! stream socket.
//!
//! Queue layout with multiport: 0/1 = port 0 rx/tx, 2/3 = control rx/tx,
//! then rx/tx per further port. Port 0 is never announced; named ports use
//! ids 1.. (as QEMU's virtserialport does, since port 0 is for a console).
//!
//! Flow control: guest-to-host data is taken off the tx queue only while the
//! per-port host buffer has room, so a slow host reader stalls the guest
//! writer; host data is read from the socket only while the per-port guest
//! buffer has room, so a guest that supplies no rx buffers stalls the host
//! writer. Nothing grows without bound.

use std::collections::VecDeque;
use std::io::{ErrorKind, Read};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;

use virtio_queue::QueueT;

use super::{
    DeviceError, QueueCtx, RING_FEATURES, TYPE_CONSOLE, VIRTIO_F_VERSION_1, VirtioDevice,
    pop_chain, read_bufs, read_config_bytes, write_bufs,
};

pub const F_MULTIPORT: u64 = 1 << 1;
pub const QUEUE_SIZE: u16 = 128;

// Control events (virtio 1.x 5.3.6.2).
pub const DEVICE_READY: u16 = 0;
pub const DEVICE_ADD: u16 = 1;
pub const DEVICE_REMOVE: u16 = 2;
pub const PORT_READY: u16 = 3;
pub const CONSOLE_PORT: u16 = 4;
pub const RESIZE: u16 = 5;
pub const PORT_OPEN: u16 = 6;
pub const PORT_NAME: u16 = 7;

pub const CTRL_RX: usize = 2;
pub const CTRL_TX: usize = 3;

/// Per-port, per-direction buffer limit.
pub const PORT_BUFFER: usize = 256 * 1024;
/// A single tx chain bigger than this is a broken or hostile driver.
pub const MAX_TX_CHAIN: u64 = 1 << 20;

/// Queue index of port `id`'s receive (host-to-guest) queue.
pub fn rx_queue(id: u32) -> usize {
    if id == 0 { 0 } else { 2 + 2 * id as usize }
}

/// A virtio_console_control message.
pub fn control_msg(id: u32, event: u16, value: u16, extra: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(8 + extra.len());
    m.extend_from_slice(&id.to_le_bytes());
    m.extend_from_slice(&event.to_le_bytes());
    m.extend_from_slice(&value.to_le_bytes());
    m.extend_from_slice(extra);
    m
}

/// A named port and its host stream.
pub struct PortConfig {
    pub name: String,
    pub stream: UnixStream,
}

struct Port {
    id: u32,
    name: String,
    stream: UnixStream,
    host_open: bool,
    guest_open: bool,
    to_guest: VecDeque<u8>,
    to_host: VecDeque<u8>,
}

pub struct Console {
    ports: Vec<Port>,
    ctrl_out: VecDeque<Vec<u8>>,
}

impl Console {
    pub fn new(ports: Vec<PortConfig>) -> Result<Self, String> {
        let ports = ports
            .into_iter()
            .enumerate()
            .map(|(i, p)| {
                p.stream
                    .set_nonblocking(true)
                    .map_err(|e| format!("port {}: {e}", p.name))?;
                Ok(Port {
                    id: i as u32 + 1,
                    name: p.name,
                    stream: p.stream,
                    host_open: true,
                    guest_open: false,
                    to_guest: VecDeque::new(),
                    to_host: VecDeque::new(),
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(Console {
            ports,
            ctrl_out: VecDeque::new(),
        })
    }

    fn max_nr_ports(&self) -> u32 {
        self.ports.len() as u32 + 1
    }

    fn port_mut(&mut self, id: u32) -> Option<&mut Port> {
        self.ports.iter_mut().find(|p| p.id == id)
    }

    fn handle_control(&mut self, msg: &[u8]) {
        if msg.len() < 8 {
            return;
        }
        let id = u32::from_le_bytes([msg[0], msg[1], msg[2], msg[3]]);
        let event = u16::from_le_bytes([msg[4], msg[5]]);
        let value = u16::from_le_bytes([msg[6], msg[7]]);
        match event {
            DEVICE_READY if value == 1 => {
                for p in &self.ports {
                    self.ctrl_out
                        .push_back(control_msg(p.id, DEVICE_ADD, 0, &[]));
                }
            }
            PORT_READY if value == 1 => {
                let Some(p) = self.ports.iter().find(|p| p.id == id) else {
                    return;
                };
                let name = p.name.as_bytes().to_vec();
                let open = p.host_open;
                self.ctrl_out
                    .push_back(control_msg(id, PORT_NAME, 1, &name));
                if open {
                    self.ctrl_out.push_back(control_msg(id, PORT_OPEN, 1, &[]));
                }
            }
            PORT_OPEN => {
                if let Some(p) = self.port_mut(id) {
                    p.guest_open = value != 0;
                }
            }
            _ => {}
        }
    }

    /// Consume the guest's control messages.
    fn control_tx(&mut self, ctx: &mut QueueCtx<'_>) -> Result<bool, DeviceError> {
        let mem = ctx.mem;
        let features = ctx.features;
        let mut any = false;
        let mut msgs = Vec::new();
        if let Some(q) = ctx.queues.get_mut(CTRL_TX) {
            while let Some((head, chain)) = pop_chain(mem, q, features) {
                let chain =
                    chain.map_err(|e| DeviceError(format!("virtio-console control: {e}")))?;
                let mut m = [0u8; 8];
                let n = read_bufs(mem, &chain.readable, 0, &mut m)?;
                msgs.push(m[..n].to_vec());
                q.add_used(mem, head, 0)
                    .map_err(|e| DeviceError(format!("virtio-console: used ring: {e:?}")))?;
                any = true;
            }
        }
        for m in msgs {
            self.handle_control(&m);
        }
        Ok(any)
    }

    /// Deliver pending control messages into the guest's control rx buffers.
    fn control_rx(&mut self, ctx: &mut QueueCtx<'_>) -> Result<bool, DeviceError> {
        let mem = ctx.mem;
        let features = ctx.features;
        let Some(q) = ctx.queues.get_mut(CTRL_RX) else {
            return Ok(false);
        };
        if !q.ready() {
            return Ok(false);
        }
        let mut any = false;
        while !self.ctrl_out.is_empty() {
            let Some((head, chain)) = pop_chain(mem, q, features) else {
                break;
            };
            let chain = chain.map_err(|e| DeviceError(format!("virtio-console control: {e}")))?;
            let msg = self.ctrl_out.pop_front().unwrap_or_default();
            let n = write_bufs(mem, &chain.writable, 0, &msg)?;
            q.add_used(mem, head, n as u32)
                .map_err(|e| DeviceError(format!("virtio-console: used ring: {e:?}")))?;
            any = true;
        }
        Ok(any)
    }

    /// Move guest tx data of port `pi` into its host buffer, then to the socket.
    fn port_tx(&mut self, ctx: &mut QueueCtx<'_>, pi: usize) -> Result<bool, DeviceError> {
        let mem = ctx.mem;
        let features = ctx.features;
        let Some(port) = self.ports.get_mut(pi) else {
            return Ok(false);
        };
        let Some(q) = ctx.queues.get_mut(rx_queue(port.id) + 1) else {
            return Ok(false);
        };
        let mut any = false;
        while q.ready() && port.to_host.len() < PORT_BUFFER {
            let Some((head, chain)) = pop_chain(mem, q, features) else {
                break;
            };
            let chain =
                chain.map_err(|e| DeviceError(format!("virtio-console port {}: {e}", port.id)))?;
            let len = chain.readable_len();
            if len > MAX_TX_CHAIN {
                return Err(DeviceError(format!(
                    "virtio-console: tx buffer of {len} bytes"
                )));
            }
            let mut buf = vec![0u8; len as usize];
            read_bufs(mem, &chain.readable, 0, &mut buf)?;
            // With the host end closed the bytes go nowhere, like an unplugged cable.
            if port.host_open {
                port.to_host.extend(buf);
            }
            q.add_used(mem, head, 0)
                .map_err(|e| DeviceError(format!("virtio-console: used ring: {e:?}")))?;
            any = true;
        }
        flush_to_host(port);
        Ok(any)
    }

    /// Read from the host socket (while there is room) and fill the guest's rx buffers.
    fn port_rx(&mut self, ctx: &mut QueueCtx<'_>, pi: usize) -> Result<bool, DeviceError> {
        let mem = ctx.mem;
        let features = ctx.features;
        let Some(port) = self.ports.get_mut(pi) else {
            return Ok(false);
        };
        let was_open = port.host_open;
        read_from_host(port);
        if was_open && !port.host_open {
            self.ctrl_out
                .push_back(control_msg(port.id, PORT_OPEN, 0, &[]));
        }
        let Some(port) = self.ports.get_mut(pi) else {
            return Ok(false);
        };
        let Some(q) = ctx.queues.get_mut(rx_queue(port.id)) else {
            return Ok(false);
        };
        let mut any = false;
        while q.ready() && !port.to_guest.is_empty() {
            let Some((head, chain)) = pop_chain(mem, q, features) else {
                break;
            };
            let chain =
                chain.map_err(|e| DeviceError(format!("virtio-console port {}: {e}", port.id)))?;
            let n = (chain.writable_len() as usize).min(port.to_guest.len());
            let data: Vec<u8> = port.to_guest.drain(..n).collect();
            let written = write_bufs(mem, &chain.writable, 0, &data)?;
            q.add_used(mem, head, written as u32)
                .map_err(|e| DeviceError(format!("virtio-console: used ring: {e:?}")))?;
            any = true;
        }
        Ok(any)
    }

    fn all_ports(&mut self, ctx: &mut QueueCtx<'_>) -> Result<bool, DeviceError> {
        let mut any = false;
        for pi in 0..self.ports.len() {
            any |= self.port_tx(ctx, pi)?;
            any |= self.port_rx(ctx, pi)?;
        }
        any |= self.control_rx(ctx)?;
        Ok(any)
    }
}

/// Write as much of the host buffer as the socket takes now.
fn flush_to_host(port: &mut Port) {
    while port.host_open && !port.to_host.is_empty() {
        let (front, _) = port.to_host.as_slices();
        // SAFETY: `front` is a valid initialised slice for the duration of the
        // call; MSG_NOSIGNAL turns a closed peer into EPIPE instead of SIGPIPE.
        let n = unsafe {
            libc::send(
                port.stream.as_raw_fd(),
                front.as_ptr().cast(),
                front.len(),
                libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT,
            )
        };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            match e.kind() {
                ErrorKind::WouldBlock => return,
                ErrorKind::Interrupted => continue,
                _ => {
                    port.host_open = false;
                    port.to_host.clear();
                    return;
                }
            }
        }
        port.to_host.drain(..n as usize);
    }
}

fn read_from_host(port: &mut Port) {
    let mut buf = [0u8; 16 * 1024];
    while port.host_open && port.to_guest.len() < PORT_BUFFER {
        let room = (PORT_BUFFER - port.to_guest.len()).min(buf.len());
        match port.stream.read(&mut buf[..room]) {
            Ok(0) => port.host_open = false,
            Ok(n) => port.to_guest.extend(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::WouldBlock => return,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => port.host_open = false,
        }
    }
}

impl VirtioDevice for Console {
    fn device_type(&self) -> u32 {
        TYPE_CONSOLE
    }

    fn queue_max_sizes(&self) -> Vec<u16> {
        vec![QUEUE_SIZE; 2 * (self.max_nr_ports() as usize + 1)]
    }

    fn features(&self) -> u64 {
        VIRTIO_F_VERSION_1 | RING_FEATURES | F_MULTIPORT
    }

    fn read_config(&self, offset: u64, data: &mut [u8]) {
        // struct virtio_console_config: cols, rows, max_nr_ports, emerg_wr.
        let mut cfg = [0u8; 12];
        cfg[4..8].copy_from_slice(&self.max_nr_ports().to_le_bytes());
        read_config_bytes(&cfg, offset, data);
    }

    fn process_queue(&mut self, ctx: &mut QueueCtx<'_>, index: usize) -> Result<bool, DeviceError> {
        let mut any = false;
        match index {
            CTRL_TX => any |= self.control_tx(ctx)?,
            CTRL_RX | 0 | 1 => {}
            i => {
                let id = (i as u32 - 2) / 2;
                if let Some(pi) = self.ports.iter().position(|p| p.id == id) {
                    if i % 2 == 0 {
                        any |= self.port_rx(ctx, pi)?;
                    } else {
                        any |= self.port_tx(ctx, pi)?;
                    }
                }
            }
        }
        any |= self.control_rx(ctx)?;
        Ok(any)
    }

    fn process_host(&mut self, ctx: &mut QueueCtx<'_>) -> Result<bool, DeviceError> {
        self.all_ports(ctx)
    }

    fn host_fds(&self) -> Vec<(RawFd, bool, bool)> {
        self.ports
            .iter()
            .filter(|p| p.host_open)
            .map(|p| {
                (
                    p.stream.as_raw_fd(),
                    p.to_guest.len() < PORT_BUFFER,
                    !p.to_host.is_empty(),
                )
            })
            .collect()
    }

    fn reset(&mut self) {
        self.ctrl_out.clear();
        for p in &mut self.ports {
            p.guest_open = false;
            p.to_guest.clear();
            p.to_host.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::devices::BusDevice;
    use crate::virtio::mmio::tests::{CountIrq, init, wr};
    use crate::virtio::mmio::{MmioTransport, REG_QUEUE_NOTIFY, REG_STATUS, STATUS_NEEDS_RESET};
    use crate::virtio::testq::*;
    use std::io::Write;
    use std::sync::Arc;
    use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap};

    const NAME: &str = "org.guestx.channel.0";

    struct Rig {
        t: MmioTransport,
        m: GuestMemoryMmap,
        q: Vec<TestQueue>,
        host: UnixStream,
    }

    /// A console with one named port; queues 2,3 (control) and 4,5 (port 1) set up.
    fn rig() -> Rig {
        let (host, dev) = UnixStream::pair().expect("pair");
        let c = Console::new(vec![PortConfig {
            name: NAME.into(),
            stream: dev,
        }])
        .expect("console");
        let m = mem();
        let irq = Arc::new(CountIrq::default());
        let mut t = MmioTransport::new(Box::new(c), m.clone(), irq).expect("t");
        let q: Vec<TestQueue> = (0..6).map(|i| TestQueue::new(i, 16)).collect();
        let setup: Vec<(usize, &TestQueue)> = (2..6).map(|i| (i, &q[i])).collect();
        init(&mut t, VIRTIO_F_VERSION_1 | F_MULTIPORT, &setup);
        Rig { t, m, q, host }
    }

    impl Rig {
        /// Driver sends a control message (buffer at DATA + 0x8000 + 0x100*slot).
        fn send_ctrl(&mut self, slot: u64, id: u32, event: u16, value: u16) {
            let a = DATA + 0x8000 + 0x100 * slot;
            self.m
                .write_slice(&control_msg(id, event, value, &[]), GuestAddress(a))
                .expect("w");
            self.q[CTRL_TX].add_chain(&self.m, &[(a, 8, false)]);
            wr(&mut self.t, REG_QUEUE_NOTIFY, CTRL_TX as u32);
        }

        /// Offer `n` control rx buffers of 64 bytes at DATA + 0x4000.
        fn offer_ctrl_rx(&mut self, n: u64) {
            for k in 0..n {
                self.q[CTRL_RX].add_chain(&self.m, &[(DATA + 0x4000 + 64 * k, 64, true)]);
            }
            wr(&mut self.t, REG_QUEUE_NOTIFY, CTRL_RX as u32);
        }

        /// Control messages delivered so far, in order.
        fn ctrl_received(&self) -> Vec<(u32, u16, u16, Vec<u8>)> {
            let q = &self.q[CTRL_RX];
            (0..q.used_idx(&self.m))
                .map(|n| {
                    let (id, len) = q.used(&self.m, n);
                    let mut b = vec![0u8; len as usize];
                    self.m
                        .read_slice(&mut b, GuestAddress(DATA + 0x4000 + 64 * u64::from(id)))
                        .expect("r");
                    (
                        u32::from_le_bytes([b[0], b[1], b[2], b[3]]),
                        u16::from_le_bytes([b[4], b[5]]),
                        u16::from_le_bytes([b[6], b[7]]),
                        b[8..].to_vec(),
                    )
                })
                .collect()
        }

        fn status(&mut self) -> u32 {
            let mut s = [0u8; 4];
            self.t.read(REG_STATUS, &mut s);
            u32::from_le_bytes(s)
        }
    }

    #[test]
    fn config_announces_ports() {
        let mut r = rig();
        let mut b = [0u8; 4];
        r.t.read(0x100 + 4, &mut b);
        assert_eq!(u32::from_le_bytes(b), 2);
        assert_eq!(r.t.queue_count(), 6);
    }

    #[test]
    fn control_handshake_names_and_opens_the_port() {
        let mut r = rig();
        r.offer_ctrl_rx(8);
        r.send_ctrl(0, 0, DEVICE_READY, 1);
        let got = r.ctrl_received();
        assert_eq!(got, vec![(1, DEVICE_ADD, 0, vec![])]);
        r.send_ctrl(1, 1, PORT_READY, 1);
        let got = r.ctrl_received();
        assert_eq!(got[1], (1, PORT_NAME, 1, NAME.as_bytes().to_vec()));
        assert_eq!(got[2], (1, PORT_OPEN, 1, vec![]));
        // Guest opens the port; unknown ids and events are ignored.
        r.send_ctrl(2, 1, PORT_OPEN, 1);
        r.send_ctrl(3, 77, PORT_READY, 1);
        r.send_ctrl(4, 1, 999, 1);
        assert_eq!(r.ctrl_received().len(), 3);
        assert_eq!(r.status() & STATUS_NEEDS_RESET, 0);
    }

    #[test]
    fn control_messages_wait_for_rx_buffers() {
        let mut r = rig();
        r.send_ctrl(0, 0, DEVICE_READY, 1);
        assert!(r.ctrl_received().is_empty());
        r.offer_ctrl_rx(1);
        assert_eq!(r.ctrl_received(), vec![(1, DEVICE_ADD, 0, vec![])]);
    }

    #[test]
    fn data_flows_both_ways() {
        let mut r = rig();
        // Guest -> host.
        r.m.write_slice(b"hello from guest", GuestAddress(DATA))
            .expect("w");
        r.q[5].add_chain(&r.m, &[(DATA, 6, false), (DATA + 6, 10, false)]);
        wr(&mut r.t, REG_QUEUE_NOTIFY, 5);
        assert_eq!(r.q[5].used_idx(&r.m), 1);
        let mut got = [0u8; 16];
        r.host.read_exact(&mut got).expect("host read");
        assert_eq!(&got, b"hello from guest");
        // Host -> guest: data waits in the VMM until the guest offers buffers.
        r.host.write_all(b"hello from host").expect("host write");
        r.t.host_io();
        assert_eq!(r.q[4].used_idx(&r.m), 0);
        r.q[4].add_chain(&r.m, &[(DATA + 0x1000, 8, true)]);
        r.q[4].add_chain(&r.m, &[(DATA + 0x2000, 64, true)]);
        wr(&mut r.t, REG_QUEUE_NOTIFY, 4);
        assert_eq!(r.q[4].used_idx(&r.m), 2);
        assert_eq!(r.q[4].used(&r.m, 0).1, 8);
        assert_eq!(r.q[4].used(&r.m, 1).1, 7);
        let mut a = [0u8; 8];
        let mut b = [0u8; 7];
        r.m.read_slice(&mut a, GuestAddress(DATA + 0x1000))
            .expect("r");
        r.m.read_slice(&mut b, GuestAddress(DATA + 0x2000))
            .expect("r");
        assert_eq!([&a[..], &b[..]].concat(), b"hello from host");
    }

    #[test]
    fn host_reads_stop_when_guest_buffer_full() {
        let mut r = rig();
        r.host.set_nonblocking(true).expect("nb");
        let chunk = vec![7u8; 64 * 1024];
        let mut sent = 0usize;
        // Fill until both the socket and the VMM buffer are full.
        for _ in 0..64 {
            match r.host.write(&chunk) {
                Ok(n) => sent += n,
                Err(_) => {
                    r.t.host_io();
                    if r.t.host_fds().iter().all(|&(_, rd, _)| !rd) {
                        break;
                    }
                }
            }
        }
        assert!(sent >= PORT_BUFFER);
        assert!(
            r.t.host_fds().iter().all(|&(_, rd, _)| !rd),
            "read interest dropped"
        );
    }

    #[test]
    fn host_close_tells_guest() {
        let mut r = rig();
        r.offer_ctrl_rx(8);
        r.send_ctrl(0, 0, DEVICE_READY, 1);
        r.send_ctrl(1, 1, PORT_READY, 1);
        let Rig { host, .. } = &mut r;
        let _ = host.shutdown(std::net::Shutdown::Both);
        r.t.host_io();
        let got = r.ctrl_received();
        assert_eq!(got.last().map(|m| (m.1, m.2)), Some((PORT_OPEN, 0)));
        assert!(r.t.host_fds().is_empty());
        // Guest writes after close are consumed, not an error.
        r.q[5].add_chain(&r.m, &[(DATA, 4, false)]);
        wr(&mut r.t, REG_QUEUE_NOTIFY, 5);
        assert_eq!(r.q[5].used_idx(&r.m), 1);
    }

    #[test]
    fn hostile_tx_chain_resets_device() {
        let mut r = rig();
        r.q[5].add_chain(&r.m, &[(0xfff0_0000, 16, false)]);
        wr(&mut r.t, REG_QUEUE_NOTIFY, 5);
        assert_ne!(r.status() & STATUS_NEEDS_RESET, 0);
    }

    #[test]
    fn indirect_tx_and_rx_chains() {
        use crate::virtio::{RING_FEATURES, VIRTIO_RING_F_EVENT_IDX, VIRTIO_RING_F_INDIRECT_DESC};
        let (host, dev) = UnixStream::pair().expect("pair");
        let c = Console::new(vec![PortConfig {
            name: NAME.into(),
            stream: dev,
        }])
        .expect("console");
        assert_eq!(c.features() & RING_FEATURES, RING_FEATURES);
        let m = mem();
        let mut t =
            MmioTransport::new(Box::new(c), m.clone(), Arc::new(CountIrq::default())).expect("t");
        let mut q: Vec<TestQueue> = (0..6).map(|i| TestQueue::new(i, 16)).collect();
        let setup: Vec<(usize, &TestQueue)> = (2..6).map(|i| (i, &q[i])).collect();
        let f = VIRTIO_F_VERSION_1
            | F_MULTIPORT
            | VIRTIO_RING_F_INDIRECT_DESC
            | VIRTIO_RING_F_EVENT_IDX;
        init(&mut t, f, &setup);
        let mut r = Rig {
            t,
            m,
            q: std::mem::take(&mut q),
            host,
        };
        // Guest -> host through an indirect table.
        r.m.write_slice(b"indirect hello", GuestAddress(DATA))
            .expect("w");
        r.q[5].add_indirect(
            &r.m,
            &[],
            DATA + 0x9000,
            &[(DATA, 8, false), (DATA + 8, 6, false)],
        );
        wr(&mut r.t, REG_QUEUE_NOTIFY, 5);
        assert_eq!(r.q[5].used_idx(&r.m), 1);
        let mut got = [0u8; 14];
        r.host.read_exact(&mut got).expect("host read");
        assert_eq!(&got, b"indirect hello");
        // Host -> guest into an indirect rx buffer.
        r.q[4].add_indirect(
            &r.m,
            &[],
            DATA + 0xa000,
            &[(DATA + 0x1000, 4, true), (DATA + 0x2000, 8, true)],
        );
        wr(&mut r.t, REG_QUEUE_NOTIFY, 4);
        r.host.write_all(b"abcdef").expect("host write");
        r.t.host_io();
        assert_eq!(r.q[4].used_idx(&r.m), 1);
        assert_eq!(r.q[4].used(&r.m, 0).1, 6);
        // A nested indirect tx table resets the device.
        r.q[5].write_table(&r.m, DATA + 0x9100, &[(DATA, 4, 0, 0)]);
        r.q[5].write_table(&r.m, DATA + 0x9000, &[(DATA + 0x9100, 16, F_INDIRECT, 0)]);
        r.q[5].add_raw(&r.m, DATA + 0x9000, 16, F_INDIRECT, 0);
        wr(&mut r.t, REG_QUEUE_NOTIFY, 5);
        assert_ne!(r.status() & STATUS_NEEDS_RESET, 0);
    }
}
