//! `GET {monitoring}/{id}/port_forward/{port}`: one TCP connection to the job's
//! port on this machine's loopback, carried as BINARY frames both ways with no
//! prefix (wire-protocol-core §8.5). The server connects before the handshake,
//! so a closed port is refused with `400`; either side closing ends both.

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::response::Response;
use futures::{SinkExt as _, StreamExt as _};
use neuro_types::permission::Action;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::state::AppState;

use super::{running_job, WsError};

/// Most bytes of one frame towards the client.
const FRAME: usize = 256 * 1024;

/// The handler.
pub async fn port_forward(
    State(state): State<AppState>,
    user: AuthUser,
    Path((id, port)): Path<(String, String)>,
    ws: WebSocketUpgrade,
) -> Result<Response, WsError> {
    let port: u16 = port
        .parse()
        .map_err(|_| ApiError::bad_request(format!("Invalid port number {port:?}")))?;
    running_job(&state.jobs, &user.name, &id, Action::Write).await?;
    let stream = TcpStream::connect(("127.0.0.1", port))
        .await
        .map_err(|e| ApiError::bad_request(format!("Cannot connect to port {port}: {e}")))?;
    let _ = stream.set_nodelay(true);
    Ok(ws.on_upgrade(move |socket| relay(socket, stream)))
}

/// Copies bytes both ways until either side ends.
async fn relay(socket: WebSocket, stream: TcpStream) {
    let (mut sink, mut source) = socket.split();
    let (mut tcp_in, mut tcp_out) = stream.into_split();
    let to_client = async {
        let mut buf = vec![0u8; FRAME];
        loop {
            match tcp_in.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let data = bytes::Bytes::copy_from_slice(&buf[..n]);
                    if sink.send(Message::Binary(data)).await.is_err() {
                        break;
                    }
                }
            }
        }
        let _ = sink.send(Message::Close(None)).await;
    };
    let to_job = async {
        while let Some(Ok(message)) = source.next().await {
            let data = match message {
                Message::Binary(data) => data,
                Message::Close(_) => break,
                _ => continue,
            };
            if tcp_out.write_all(&data).await.is_err() {
                break;
            }
        }
        let _ = tcp_out.shutdown().await;
    };
    tokio::select! {
        () = to_client => {}
        () = to_job => {}
    }
}
