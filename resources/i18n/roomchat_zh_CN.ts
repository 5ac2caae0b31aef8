<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="zh_CN" sourcelanguage="en">
<context>
    <name>ActionBar</name>
    <message>
        <location filename="../../desktop/widgets/action_bar.py" line="61"/>
        <source>Cancel</source>
        <translation>取消</translation>
    </message>
    <message>
        <location filename="../../desktop/widgets/action_bar.py" line="63"/>
        <source>Replying to %1: %2</source>
        <translation>回复 %1:%2</translation>
    </message>
    <message>
        <location filename="../../desktop/widgets/action_bar.py" line="65"/>
        <source>Editing your message · Enter saves, Esc cancels</source>
        <translation>正在编辑你的消息 · Enter 保存,Esc 取消</translation>
    </message>
</context>
<context>
    <name>BubbleDelegate</name>
    <message>
        <location filename="../../desktop/widgets/bubbles.py" line="189"/>
        <source>private to %1</source>
        <translation>私信给 %1</translation>
    </message>
    <message>
        <location filename="../../desktop/widgets/bubbles.py" line="191"/>
        <source>private</source>
        <translation>私信</translation>
    </message>
    <message>
        <location filename="../../desktop/widgets/bubbles.py" line="193"/>
        <source>edited</source>
        <translation>已编辑</translation>
    </message>
    <message>
        <location filename="../../desktop/widgets/bubbles.py" line="195"/>
        <source>sending…</source>
        <translation>发送中…</translation>
    </message>
    <message>
        <location filename="../../desktop/widgets/bubbles.py" line="197"/>
        <source>not sent</source>
        <translation>未发送</translation>
    </message>
    <message>
        <location filename="../../desktop/widgets/bubbles.py" line="199"/>
        <source>not sent: longer than %1 characters</source>
        <translation>未发送:超过 %1 个字符</translation>
    </message>
    <message>
        <location filename="../../desktop/widgets/bubbles.py" line="201"/>
        <source>not sent: the server refused it</source>
        <translation>未发送:服务器拒绝了这条消息</translation>
    </message>
    <message>
        <location filename="../../desktop/widgets/bubbles.py" line="203"/>
        <source>not sent — click to retry</source>
        <translation>未发送 — 点击重试</translation>
    </message>
    <message>
        <location filename="../../desktop/widgets/bubbles.py" line="406"/>
        <source>Message deleted</source>
        <translation>消息已删除</translation>
    </message>
</context>
<context>
    <name>CertificatePrompt</name>
    <message>
        <location filename="../../desktop/widgets/certificate_prompt.py" line="30"/>
        <source>This server now presents a different certificate. Someone may be listening in, or the host made a new one.

SHA-256: %1

Trust the new certificate?</source>
        <translation>此服务器现在出示的是另一张证书。可能有人在窃听，也可能是主持人生成了新证书。

SHA-256：%1

信任新的证书吗？</translation>
    </message>
    <message>
        <location filename="../../desktop/widgets/certificate_prompt.py" line="34"/>
        <source>Compare this fingerprint with the one the host shows.

SHA-256: %1

Trust this server?</source>
        <translation>请将此指纹与主持人显示的指纹进行比对。

SHA-256：%1

信任此服务器吗？</translation>
    </message>
    <message>
        <location filename="../../desktop/widgets/certificate_prompt.py" line="37"/>
        <location filename="../../desktop/widgets/certificate_prompt.py" line="53"/>
        <source>Server certificate</source>
        <translation>服务器证书</translation>
    </message>
    <message>
        <location filename="../../desktop/widgets/certificate_prompt.py" line="49"/>
        <source>Not connected: this server&apos;s certificate is not the one the link names. Someone may be pretending to be the host, or the host made a new certificate: ask for a new link.

The link names:
%1

The server presented:
%2</source>
        <translation>未连接：此服务器的证书与链接中指定的不一致。可能有人在冒充主持人，或者主持人生成了新证书：请向主持人索取新的链接。

链接指定的是：
%1

服务器出示的是：
%2</translation>
    </message>
</context>
<context>
    <name>Composer</name>
    <message>
        <location filename="../../desktop/widgets/composer.py" line="119"/>
        <source>%1 is typing…</source>
        <translation>%1 正在输入…</translation>
    </message>
    <message>
        <location filename="../../desktop/widgets/composer.py" line="121"/>
        <source>%1 and %2 are typing…</source>
        <translation>%1 和 %2 正在输入…</translation>
    </message>
    <message>
        <location filename="../../desktop/widgets/composer.py" line="122"/>
        <source>Several people are typing…</source>
        <translation>好几个人正在输入…</translation>
    </message>
    <message>
        <location filename="../../desktop/widgets/composer.py" line="213"/>
        <location filename="../../desktop/widgets/composer.py" line="275"/>
        <source>Private to %1</source>
        <translation>私信给 %1</translation>
    </message>
    <message>
        <location filename="../../desktop/widgets/composer.py" line="248"/>
        <source>Too long: %1 / %2, remove %3</source>
        <translation>太长了:%1 / %2,请删去 %3 个字符</translation>
    </message>
    <message>
        <location filename="../../desktop/widgets/composer.py" line="269"/>
        <source>Type a message…  (Enter sends, Shift+Enter: new line)</source>
        <translation>输入消息…（Enter 发送，Shift+Enter 换行）</translation>
    </message>
    <message>
        <location filename="../../desktop/widgets/composer.py" line="270"/>
        <source>Type a message…</source>
        <translation>输入消息…</translation>
    </message>
    <message>
        <location filename="../../desktop/widgets/composer.py" line="271"/>
        <source>Send</source>
        <translation>发送</translation>
    </message>
    <message>
        <location filename="../../desktop/widgets/composer.py" line="272"/>
        <source>Send files (or drop them here, or paste a picture)</source>
        <translation>发送文件(也可以把文件拖到这里,或粘贴图片)</translation>
    </message>
    <message>
        <location filename="../../desktop/widgets/composer.py" line="273"/>
        <source>Send to everyone again</source>
        <translation>改回发给所有人</translation>
    </message>
</context>
<context>
    <name>CopyFeedback</name>
    <message>
        <location filename="../../desktop/widgets/copy_feedback.py" line="20"/>
        <source>Copy</source>
        <translation>复制</translation>
    </message>
    <message>
        <location filename="../../desktop/widgets/copy_feedback.py" line="24"/>
        <source>Copied ✓</source>
        <translation>已复制 ✓</translation>
    </message>
</context>
<context>
    <name>EmojiButton</name>
    <message>
        <location filename="../../desktop/widgets/emoji_picker.py" line="71"/>
        <source>Insert an emoji</source>
        <translation>插入表情</translation>
    </message>
</context>
<context>
    <name>Failures</name>
    <message>
        <location filename="../../desktop/failures.py" line="29"/>
        <source>Connection refused: nothing listens at that address and port</source>
        <translation>连接被拒绝：该地址和端口上没有服务在监听</translation>
    </message>
    <message>
        <location filename="../../desktop/failures.py" line="30"/>
        <source>Host not found: check the name (DNS)</source>
        <translation>找不到主机：请检查名称（DNS）</translation>
    </message>
    <message>
        <location filename="../../desktop/failures.py" line="31"/>
        <source>No answer from that address (timed out)</source>
        <translation>该地址没有应答（超时）</translation>
    </message>
    <message>
        <location filename="../../desktop/failures.py" line="32"/>
        <source>No route to that address: another network?</source>
        <translation>无法到达该地址：是否在另一个网络?</translation>
    </message>
    <message>
        <location filename="../../desktop/failures.py" line="33"/>
        <source>TLS mismatch: that server does not use TLS (try ws://)</source>
        <translation>TLS 不匹配：该服务器未使用 TLS（请试 ws://）</translation>
    </message>
    <message>
        <location filename="../../desktop/failures.py" line="34"/>
        <source>The server hung up without answering: it may need TLS (try wss://)</source>
        <translation>服务器未应答就断开了：它可能需要 TLS（请试 wss://）</translation>
    </message>
    <message>
        <location filename="../../desktop/failures.py" line="36"/>
        <source>Not a RoomChat server at that address</source>
        <translation>该地址上不是 RoomChat 服务器</translation>
    </message>
    <message>
        <location filename="../../desktop/failures.py" line="37"/>
        <source>The server is full (too many connections)</source>
        <translation>服务器已满（连接过多）</translation>
    </message>
    <message>
        <location filename="../../desktop/failures.py" line="38"/>
        <source>The server refused this connection</source>
        <translation>服务器拒绝了此连接</translation>
    </message>
    <message>
        <location filename="../../desktop/failures.py" line="39"/>
        <source>The host closed the room</source>
        <translation>主持人关闭了房间</translation>
    </message>
    <message>
        <location filename="../../desktop/failures.py" line="40"/>
        <source>The server is shutting down</source>
        <translation>服务器正在关闭</translation>
    </message>
    <message>
        <location filename="../../desktop/failures.py" line="41"/>
        <source>The server dropped us for falling behind</source>
        <translation>接收太慢,服务器断开了连接</translation>
    </message>
    <message>
        <location filename="../../desktop/failures.py" line="42"/>
        <source>Server error</source>
        <translation>服务器错误</translation>
    </message>
    <message>
        <location filename="../../desktop/failures.py" line="43"/>
        <source>The server stopped answering</source>
        <translation>服务器停止了应答</translation>
    </message>
    <message>
        <location filename="../../desktop/failures.py" line="44"/>
        <source>Connection lost</source>
        <translation>连接断开</translation>
    </message>
    <message>
        <location filename="../../desktop/failures.py" line="45"/>
        <source>Network error</source>
        <translation>网络错误</translation>
    </message>
</context>
<context>
    <name>FileActions</name>
    <message>
        <location filename="../../desktop/file_actions.py" line="95"/>
        <source>Send files</source>
        <translation>发送文件</translation>
    </message>
    <message>
        <location filename="../../desktop/file_actions.py" line="154"/>
        <source>Save file</source>
        <translation>保存文件</translation>
    </message>
    <message>
        <location filename="../../desktop/file_actions.py" line="174"/>
        <source>Not saved: %1</source>
        <translation>未保存:%1</translation>
    </message>
</context>
<context>
    <name>FileBubble</name>
    <message>
        <location filename="../../desktop/widgets/file_bubble.py" line="34"/>
        <source>Cancel</source>
        <translation>取消</translation>
    </message>
    <message>
        <location filename="../../desktop/widgets/file_bubble.py" line="36"/>
        <source>Dismiss</source>
        <translation>移除</translation>
    </message>
    <message>
        <location filename="../../desktop/widgets/file_bubble.py" line="38"/>
        <source>Save…</source>
        <translation>保存…</translation>
    </message>
    <message>
        <location filename="../../desktop/widgets/file_bubble.py" line="39"/>
        <source>Open</source>
        <translation>打开</translation>
    </message>
    <message>
        <location filename="../../desktop/widgets/file_bubble.py" line="83"/>
        <source>%1 · storing…</source>
        <translation>%1 · 正在存储…</translation>
    </message>
    <message>
        <location filename="../../desktop/widgets/file_bubble.py" line="86"/>
        <source>%1 of %2</source>
        <translation>%1 / 共 %2</translation>
    </message>
    <message>
        <location filename="../../desktop/widgets/file_bubble.py" line="88"/>
        <source>%1 · waiting…</source>
        <translation>%1 · 等待发送…</translation>
    </message>
    <message>
        <location filename="../../desktop/widgets/file_bubble.py" line="90"/>
        <source>%1 · saved</source>
        <translation>%1 · 已保存</translation>
    </message>
    <message>
        <location filename="../../desktop/widgets/file_bubble.py" line="162"/>
        <source>Loading picture…</source>
        <translation>正在加载图片…</translation>
    </message>
</context>
<context>
    <name>HostPanel</name>
    <message>
        <location filename="../../desktop/widgets/host_panel.py" line="106"/>
        <source>Host a room on this computer</source>
        <translation>在这台电脑上主持房间</translation>
    </message>
    <message>
        <location filename="../../desktop/widgets/host_panel.py" line="107"/>
        <source>Port</source>
        <translation>端口</translation>
    </message>
    <message>
        <location filename="../../desktop/widgets/host_panel.py" line="108"/>
        <source>Require a key (optional)</source>
        <translation>需要密钥（可选）</translation>
    </message>
    <message>
        <location filename="../../desktop/widgets/host_panel.py" line="109"/>
        <source>no key</source>
        <translation>不需要密钥</translation>
    </message>
    <message>
        <location filename="../../desktop/widgets/host_panel.py" line="110"/>
        <source>Show this room on the network</source>
        <translation>在局域网上显示这个房间</translation>
    </message>
    <message>
        <location filename="../../desktop/widgets/host_panel.py" line="111"/>
        <source>Encrypt (TLS)</source>
        <translation>加密 (TLS)</translation>
    </message>
    <message>
        <location filename="../../desktop/widgets/host_panel.py" line="112"/>
        <source>Serve https:// and wss:// with this computer&apos;s own certificate, so the key and the messages never cross the network in clear</source>
        <translation>使用本机自己的证书提供 https:// 和 wss://，房间密钥和消息不会以明文经过网络</translation>
    </message>
    <message>
        <location filename="../../desktop/widgets/host_panel.py" line="114"/>
        <source>Show where others join</source>
        <translation>显示其他人的加入方式</translation>
    </message>
</context>
<context>
    <name>Hosting</name>
    <message>
        <location filename="../../desktop/hosting.py" line="60"/>
        <source>1 person is in a room you host. Quit and close the room?</source>
        <translation>有 1 人在你主持的房间里。要退出并关闭房间吗？</translation>
    </message>
    <message>
        <location filename="../../desktop/hosting.py" line="61"/>
        <source>1 person is in a room you host. Stop hosting?</source>
        <translation>有 1 人在你主持的房间里。要停止主持吗？</translation>
    </message>
    <message>
        <location filename="../../desktop/hosting.py" line="63"/>
        <source>%1 people are in rooms you host. Quit and close the rooms?</source>
        <translation>有 %1 人在你主持的房间里。要退出并关闭这些房间吗？</translation>
    </message>
    <message>
        <location filename="../../desktop/hosting.py" line="64"/>
        <source>%1 people are in rooms you host. Stop hosting?</source>
        <translation>有 %1 人在你主持的房间里。要停止主持吗？</translation>
    </message>
    <message>
        <location filename="../../desktop/hosting.py" line="65"/>
        <location filename="../../desktop/hosting.py" line="67"/>
        <source>Stop hosting</source>
        <translation>停止主持</translation>
    </message>
    <message>
        <location filename="../../desktop/hosting.py" line="67"/>
        <source>Quit</source>
        <translation>退出</translation>
    </message>
    <message>
        <location filename="../../desktop/hosting.py" line="69"/>
        <source>Keep hosting</source>
        <translation>继续主持</translation>
    </message>
    <message>
        <location filename="../../desktop/hosting.py" line="170"/>
        <source>Port %1 is in use by another program.</source>
        <translation>端口 %1 已被其他程序占用。</translation>
    </message>
    <message>
        <location filename="../../desktop/hosting.py" line="171"/>
        <source>Use port %1</source>
        <translation>改用端口 %1</translation>
    </message>
    <message>
        <location filename="../../desktop/hosting.py" line="174"/>
        <source>Could not host: %1</source>
        <translation>无法主持房间：%1</translation>
    </message>
</context>
<context>
    <name>ImageViewer</name>
    <message>
        <location filename="../../desktop/widgets/image_viewer.py" line="45"/>
        <source>Loading picture…</source>
        <translation>正在加载图片…</translation>
    </message>
    <message>
        <location filename="../../desktop/widgets/image_viewer.py" line="53"/>
        <source>The picture cannot be shown: %1</source>
        <translation>无法显示图片:%1</translation>
    </message>
    <message>
        <location filename="../../desktop/widgets/image_viewer.py" line="58"/>
        <source>The picture cannot be shown: it is damaged</source>
        <translation>无法显示图片:图片已损坏</translation>
    </message>
</context>
<context>
    <name>LinkPrompt</name>
    <message>
        <location filename="../../desktop/widgets/link_prompt.py" line="35"/>
        <source>Open link</source>
        <translation>打开链接</translation>
    </message>
    <message>
        <location filename="../../desktop/widgets/link_prompt.py" line="36"/>
        <source>Open this link in your browser?</source>
        <translation>在浏览器中打开此链接?</translation>
    </message>
    <message>
        <location filename="../../desktop/widgets/link_prompt.py" line="39"/>
        <source>Open</source>
        <translation>打开</translation>
    </message>
</context>
<context>
    <name>MainWindow</name>
    <message>
        <location filename="../../desktop/widgets/certificate_prompt.py" line="19"/>
        <source>The server&apos;s certificate is not trusted yet</source>
        <translation>服务器的证书尚未被信任</translation>
    </message>
    <message>
        <location filename="../../desktop/widgets/certificate_prompt.py" line="20"/>
        <source>The server&apos;s certificate has changed</source>
        <translation>服务器的证书已更改</translation>
    </message>
    <message>
        <location filename="../../desktop/widgets/certificate_prompt.py" line="21"/>
        <source>Refused: the server&apos;s certificate is not the one in the link (nothing was sent)</source>
        <translation>已拒绝：服务器的证书与链接中的不一致（未发送任何内容）</translation>
    </message>
    <message>
        <location filename="../../desktop/window.py" line="176"/>
        <source>Not connected</source>
        <translation>未连接</translation>
    </message>
    <message>
        <location filename="../../desktop/window.py" line="180"/>
        <location filename="../../desktop/window.py" line="388"/>
        <location filename="../../desktop/window.py" line="392"/>
        <source>Join room</source>
        <translation>加入房间</translation>
    </message>
    <message>
        <location filename="../../desktop/window.py" line="334"/>
        <source>Enter a name first</source>
        <translation>请先输入用户名</translation>
    </message>
    <message>
        <location filename="../../desktop/window.py" line="338"/>
        <source>Enter a room</source>
        <translation>请输入房间号</translation>
    </message>
    <message>
        <location filename="../../desktop/window.py" line="371"/>
        <source>Switch room</source>
        <translation>切换房间</translation>
    </message>
    <message>
        <location filename="../../desktop/window.py" line="373"/>
        <source>Type another room and press Enter to switch</source>
        <translation>输入另一个房间号并按 Enter 即可切换</translation>
    </message>
    <message>
        <location filename="../../desktop/window.py" line="389"/>
        <source>Joining…</source>
        <translation>正在加入…</translation>
    </message>
    <message>
        <location filename="../../desktop/window.py" line="390"/>
        <source>Joined</source>
        <translation>已加入</translation>
    </message>
    <message>
        <location filename="../../desktop/window.py" line="391"/>
        <source>Reconnecting...</source>
        <translation>正在重连...</translation>
    </message>
    <message>
        <location filename="../../desktop/window.py" line="402"/>
        <source>Online in %1</source>
        <translation>已在房间「%1」在线</translation>
    </message>
    <message>
        <location filename="../../desktop/window.py" line="404"/>
        <source>Connecting…</source>
        <translation>正在连接…</translation>
    </message>
    <message>
        <location filename="../../desktop/window.py" line="406"/>
        <source>Reconnecting: %1</source>
        <translation>正在重连：%1</translation>
    </message>
    <message>
        <location filename="../../desktop/window.py" line="408"/>
        <source>Gave up reconnecting: %1</source>
        <translation>已停止重连：%1</translation>
    </message>
    <message>
        <location filename="../../desktop/window.py" line="410"/>
        <source>Offline: %1</source>
        <translation>离线：%1</translation>
    </message>
    <message>
        <location filename="../../desktop/window.py" line="418"/>
        <source>%1 — retry %2 in %3 s</source>
        <translation>%1 — %3 秒后第 %2 次重试</translation>
    </message>
    <message>
        <location filename="../../desktop/window.py" line="438"/>
        <source>That name is already taken in this room</source>
        <translation>这个名字在本房间已被占用</translation>
    </message>
    <message>
        <location filename="../../desktop/window.py" line="439"/>
        <source>That name cannot be used</source>
        <translation>不能使用这个名字</translation>
    </message>
    <message>
        <location filename="../../desktop/window.py" line="440"/>
        <source>That room name cannot be used</source>
        <translation>不能使用这个房间名</translation>
    </message>
    <message>
        <location filename="../../desktop/window.py" line="441"/>
        <source>This room needs the right key</source>
        <translation>这个房间需要正确的密钥</translation>
    </message>
    <message>
        <location filename="../../desktop/window.py" line="442"/>
        <source>This server requires a room key: enter it</source>
        <translation>此服务器需要房间密钥：请输入</translation>
    </message>
    <message>
        <location filename="../../desktop/window.py" line="443"/>
        <source>The server cannot store messages right now</source>
        <translation>服务器暂时无法保存消息</translation>
    </message>
    <message>
        <location filename="../../desktop/window.py" line="444"/>
        <source>Not a valid server address</source>
        <translation>服务器地址无效</translation>
    </message>
    <message>
        <location filename="../../desktop/window.py" line="564"/>
        <source>Private message from %1</source>
        <translation>来自 %1 的私信</translation>
    </message>
    <message>
        <location filename="../../desktop/window.py" line="566"/>
        <source>%1 mentioned you</source>
        <translation>%1 提到了你</translation>
    </message>
    <message>
        <location filename="../../desktop/window.py" line="568"/>
        <source>%1 in RoomChat</source>
        <translation>%1 发来新消息</translation>
    </message>
    <message>
        <location filename="../../desktop/hosting.py" line="150"/>
        <source>Hosting on port %1: enter your name and join</source>
        <translation>正在端口 %1 上主持：请输入用户名并加入</translation>
    </message>
    <message>
        <location filename="../../desktop/window.py" line="614"/>
        <source>&amp;Language</source>
        <translation>语言(&amp;L)</translation>
    </message>
    <message>
        <location filename="../../desktop/window.py" line="256"/>
        <source>No server yet — host a room on this computer?</source>
        <translation>还没有服务器 — 要在这台电脑上主持一个房间吗？</translation>
    </message>
    <message>
        <location filename="../../desktop/window.py" line="257"/>
        <source>Host a room</source>
        <translation>主持房间</translation>
    </message>
</context>
<context>
    <name>MessageActions</name>
    <message>
        <location filename="../../desktop/message_actions.py" line="109"/>
        <source>Delete message</source>
        <translation>删除消息</translation>
    </message>
    <message>
        <location filename="../../desktop/message_actions.py" line="110"/>
        <source>Delete this message for everyone?

%1</source>
        <translation>为所有人删除这条消息?

%1</translation>
    </message>
    <message>
        <location filename="../../desktop/message_actions.py" line="112"/>
        <source>Delete</source>
        <translation>删除</translation>
    </message>
    <message>
        <location filename="../../desktop/message_actions.py" line="125"/>
        <source>Not connected: the message was not changed.</source>
        <translation>未连接:消息没有修改。</translation>
    </message>
    <message>
        <location filename="../../desktop/message_actions.py" line="135"/>
        <source>it is too old to change</source>
        <translation>消息太久了,已不能修改</translation>
    </message>
    <message>
        <location filename="../../desktop/message_actions.py" line="136"/>
        <source>only its sender can change it</source>
        <translation>只有发送者可以修改</translation>
    </message>
    <message>
        <location filename="../../desktop/message_actions.py" line="137"/>
        <source>it no longer exists</source>
        <translation>消息已不存在</translation>
    </message>
    <message>
        <location filename="../../desktop/message_actions.py" line="139"/>
        <source>Message not changed: %1</source>
        <translation>消息未修改:%1</translation>
    </message>
    <message>
        <location filename="../../desktop/message_actions.py" line="150"/>
        <source>That message is older than the history loaded here.</source>
        <translation>这条消息比这里已加载的历史更早。</translation>
    </message>
    <message>
        <location filename="../../desktop/message_actions.py" line="158"/>
        <source>not connected</source>
        <translation>未连接</translation>
    </message>
</context>
<context>
    <name>MessageModel</name>
    <message>
        <location filename="../../desktop/models.py" line="63"/>
        <source>%1 joined the room</source>
        <translation>用户「%1」加入了房间</translation>
    </message>
    <message>
        <location filename="../../desktop/models.py" line="65"/>
        <source>%1 left the room</source>
        <translation>用户「%1」离开了房间</translation>
    </message>
    <message>
        <location filename="../../desktop/models.py" line="67"/>
        <source>Joined %1 (%2 online)</source>
        <translation>已加入房间「%1」,当前 %2 人在线</translation>
    </message>
    <message>
        <location filename="../../desktop/models.py" line="70"/>
        <source>Reconnected to %1</source>
        <translation>已重新连接到「%1」</translation>
    </message>
    <message>
        <location filename="../../desktop/models.py" line="72"/>
        <source>New messages</source>
        <translation>以下为新消息</translation>
    </message>
    <message>
        <location filename="../../desktop/models.py" line="74"/>
        <source>%1 older messages are no longer kept in this window</source>
        <translation>更早的 %1 条消息已不再保留在此窗口中</translation>
    </message>
    <message>
        <location filename="../../desktop/models.py" line="77"/>
        <source>You were away a long time: only the newest 1,000 messages are shown.</source>
        <translation>你离开太久了:只显示最新的 1000 条消息。</translation>
    </message>
    <message>
        <location filename="../../desktop/models.py" line="127"/>
        <source>Message deleted</source>
        <translation>消息已删除</translation>
    </message>
    <message>
        <location filename="../../desktop/models.py" line="81"/>
        <source>The server lost this room&apos;s history: earlier messages are gone there.</source>
        <translation>服务器丢失了这个房间的历史记录:之前的消息在服务器上已不存在。</translation>
    </message>
</context>
<context>
    <name>MessageView</name>
    <message>
        <location filename="../../desktop/widgets/message_view.py" line="355"/>
        <source>1 new message ↓</source>
        <translation>1 条新消息 ↓</translation>
    </message>
    <message>
        <location filename="../../desktop/widgets/message_view.py" line="357"/>
        <source>%1 new messages ↓</source>
        <translation>%1 条新消息 ↓</translation>
    </message>
    <message>
        <location filename="../../desktop/widgets/message_view.py" line="399"/>
        <source>Reply</source>
        <translation>回复</translation>
    </message>
    <message>
        <location filename="../../desktop/widgets/message_view.py" line="403"/>
        <source>Edit</source>
        <translation>编辑</translation>
    </message>
    <message>
        <location filename="../../desktop/widgets/message_view.py" line="405"/>
        <source>Delete</source>
        <translation>删除</translation>
    </message>
    <message>
        <location filename="../../desktop/widgets/message_view.py" line="395"/>
        <source>Copy text</source>
        <translation>复制文字</translation>
    </message>
    <message>
        <location filename="../../desktop/widgets/message_view.py" line="408"/>
        <source>Retry sending</source>
        <translation>重新发送</translation>
    </message>
</context>
<context>
    <name>NetworkRooms</name>
    <message>
        <location filename="../../desktop/widgets/network_rooms.py" line="146"/>
        <source>Double-click a room to join it.</source>
        <translation>双击房间即可加入。</translation>
    </message>
    <message>
        <location filename="../../desktop/widgets/network_rooms.py" line="148"/>
        <source>Looking for rooms… None yet: type the host&apos;s address above.</source>
        <translation>正在查找房间… 还没有找到：请在上方输入主持人的地址。</translation>
    </message>
    <message>
        <location filename="../../desktop/widgets/network_rooms.py" line="150"/>
        <source>Rooms on the network cannot be listed here: type the host&apos;s address above.</source>
        <translation>这里无法列出局域网上的房间：请在上方输入主持人的地址。</translation>
    </message>
    <message>
        <location filename="../../desktop/widgets/network_rooms.py" line="154"/>
        <source>Rooms on this network</source>
        <translation>局域网上的房间</translation>
    </message>
</context>
<context>
    <name>NetworkRoomsModel</name>
    <message>
        <location filename="../../desktop/widgets/network_rooms.py" line="87"/>
        <source>(no one in a room yet)</source>
        <translation>（还没有人进入房间）</translation>
    </message>
    <message>
        <location filename="../../desktop/widgets/network_rooms.py" line="89"/>
        <source>%1 · %2 (recent)</source>
        <translation>%1 · %2（最近）</translation>
    </message>
    <message>
        <location filename="../../desktop/widgets/network_rooms.py" line="90"/>
        <source>1 person</source>
        <translation>1 人</translation>
    </message>
    <message>
        <location filename="../../desktop/widgets/network_rooms.py" line="90"/>
        <source>%1 people</source>
        <translation>%1 人</translation>
    </message>
</context>
<context>
    <name>Reachability</name>
    <message>
        <location filename="../../desktop/reachability.py" line="29"/>
        <source>nothing accepts connections there: the server may listen on loopback only</source>
        <translation>那里没有程序接受连接：服务器可能只在本机回环地址上监听</translation>
    </message>
    <message>
        <location filename="../../desktop/reachability.py" line="31"/>
        <source>no answer: a firewall may block port %1</source>
        <translation>没有应答：防火墙可能拦截了端口 %1</translation>
    </message>
    <message>
        <location filename="../../desktop/reachability.py" line="32"/>
        <source>another program answers on port %1</source>
        <translation>端口 %1 上应答的是另一个程序</translation>
    </message>
    <message>
        <location filename="../../desktop/reachability.py" line="33"/>
        <source>this computer cannot reach that address</source>
        <translation>这台电脑无法访问该地址</translation>
    </message>
    <message>
        <location filename="../../desktop/reachability.py" line="36"/>
        <source>On Windows, a network set to Public blocks discovery and incoming connections: make it Private in the network settings.</source>
        <translation>在 Windows 上，设为“公用”的网络会阻止发现和传入连接：请在网络设置中改为“专用”。</translation>
    </message>
</context>
<context>
    <name>SearchPanel</name>
    <message>
        <location filename="../../desktop/widgets/search_panel.py" line="112"/>
        <source>private</source>
        <translation>私信</translation>
    </message>
    <message>
        <location filename="../../desktop/widgets/search_panel.py" line="133"/>
        <source>Searching…</source>
        <translation>正在搜索…</translation>
    </message>
    <message>
        <location filename="../../desktop/widgets/search_panel.py" line="135"/>
        <source>No messages found.</source>
        <translation>没有找到消息。</translation>
    </message>
    <message>
        <location filename="../../desktop/widgets/search_panel.py" line="137"/>
        <source>%1 messages found, newest first</source>
        <translation>找到 %1 条消息,最新的在前</translation>
    </message>
    <message>
        <location filename="../../desktop/widgets/search_panel.py" line="139"/>
        <source>That message is older than the history loaded here.</source>
        <translation>这条消息比这里已加载的历史更早。</translation>
    </message>
    <message>
        <location filename="../../desktop/widgets/search_panel.py" line="141"/>
        <source>Use at most 8 words.</source>
        <translation>最多使用 8 个词。</translation>
    </message>
    <message>
        <location filename="../../desktop/widgets/search_panel.py" line="143"/>
        <source>The search failed (%1).</source>
        <translation>搜索失败(%1)。</translation>
    </message>
    <message>
        <location filename="../../desktop/widgets/search_panel.py" line="149"/>
        <source>Search this room&apos;s messages…</source>
        <translation>搜索本房间的消息…</translation>
    </message>
    <message>
        <location filename="../../desktop/widgets/search_panel.py" line="150"/>
        <source>Close search (Esc)</source>
        <translation>关闭搜索(Esc)</translation>
    </message>
</context>
<context>
    <name>ShareCard</name>
    <message>
        <location filename="../../desktop/widgets/share_card.py" line="245"/>
        <source>Browsers will warn: go on only if the SHA-256 matches.</source>
        <translation>浏览器会发出警告：仅当 SHA-256 一致时才继续。</translation>
    </message>
    <message>
        <location filename="../../desktop/widgets/share_card.py" line="250"/>
        <source>Checking that others can reach this address…</source>
        <translation>正在检查其他人能否访问这个地址…</translation>
    </message>
    <message>
        <location filename="../../desktop/widgets/share_card.py" line="252"/>
        <source>✓ Reachable at %1 (checked from this computer)</source>
        <translation>✓ 可以通过 %1 访问（已从这台电脑检查）</translation>
    </message>
    <message>
        <location filename="../../desktop/widgets/share_card.py" line="254"/>
        <source>⚠ %1 does not answer: %2</source>
        <translation>⚠ %1 无法访问：%2</translation>
    </message>
    <message>
        <location filename="../../desktop/widgets/share_card.py" line="264"/>
        <source>A browser will say that the connection is not private. It says so because this computer made its own certificate and no certificate authority signed it; the connection is still encrypted.

On the warning page, open the certificate&apos;s details. If its SHA-256 fingerprint is
%1
it is this computer: continue. If it differs, someone else answered: do not continue.

The RoomChat app checks the fingerprint by itself when it joins by these links or this code.</source>
        <translation>浏览器会提示“您的连接不是私密连接”。这是因为证书是这台电脑自己生成的，没有经过证书颁发机构签名；连接仍然是加密的。

请在警告页面中打开证书详情。若其 SHA-256 指纹为
%1
那就是这台电脑：可以继续。如果不一致，说明应答的是别人：请不要继续。

通过这些链接或二维码加入时，RoomChat 应用会自动核对指纹。</translation>
    </message>
    <message>
        <location filename="../../desktop/widgets/share_card.py" line="273"/>
        <source>Browsers&apos; certificate warning</source>
        <translation>浏览器的证书警告</translation>
    </message>
    <message>
        <location filename="../../desktop/widgets/share_card.py" line="282"/>
        <source>Others join at</source>
        <translation>其他人从这里加入</translation>
    </message>
    <message>
        <location filename="../../desktop/widgets/share_card.py" line="283"/>
        <source>Hide</source>
        <translation>隐藏</translation>
    </message>
    <message>
        <location filename="../../desktop/widgets/share_card.py" line="284"/>
        <source>Hide this card (the host panel shows it again)</source>
        <translation>隐藏此卡片（可在主持面板中重新显示）</translation>
    </message>
    <message>
        <location filename="../../desktop/widgets/share_card.py" line="285"/>
        <source>In a web browser (or scan the code)</source>
        <translation>用网页浏览器打开（或扫描二维码）</translation>
    </message>
    <message>
        <location filename="../../desktop/widgets/share_card.py" line="286"/>
        <source>In the RoomChat app</source>
        <translation>用 RoomChat 应用加入</translation>
    </message>
    <message>
        <location filename="../../desktop/widgets/share_card.py" line="287"/>
        <source>Why?</source>
        <translation>为什么？</translation>
    </message>
</context>
<context>
    <name>Sidebar</name>
    <message>
        <location filename="../../desktop/widgets/sidebar.py" line="119"/>
        <location filename="../../desktop/widgets/sidebar.py" line="150"/>
        <source>Members (%1)</source>
        <translation>成员（%1）</translation>
    </message>
    <message>
        <location filename="../../desktop/widgets/sidebar.py" line="129"/>
        <source>Send private message</source>
        <translation>发送私信</translation>
    </message>
    <message>
        <location filename="../../desktop/widgets/sidebar.py" line="140"/>
        <source>Chat room</source>
        <translation>聊天室</translation>
    </message>
    <message>
        <location filename="../../desktop/widgets/sidebar.py" line="141"/>
        <source>Name</source>
        <translation>用户名</translation>
    </message>
    <message>
        <location filename="../../desktop/widgets/sidebar.py" line="142"/>
        <source>Your nickname</source>
        <translation>你的昵称</translation>
    </message>
    <message>
        <location filename="../../desktop/widgets/sidebar.py" line="143"/>
        <source>Room</source>
        <translation>房间号</translation>
    </message>
    <message>
        <location filename="../../desktop/widgets/sidebar.py" line="145"/>
        <source>Server address</source>
        <translation>服务器地址</translation>
    </message>
    <message>
        <location filename="../../desktop/widgets/sidebar.py" line="147"/>
        <source>Room key</source>
        <translation>房间密钥</translation>
    </message>
    <message>
        <location filename="../../desktop/widgets/sidebar.py" line="148"/>
        <source>Retry now</source>
        <translation>立即重试</translation>
    </message>
    <message>
        <location filename="../../desktop/widgets/sidebar.py" line="149"/>
        <source>Leave</source>
        <translation>离开房间</translation>
    </message>
</context>
<context>
    <name>SidebarDrawer</name>
    <message>
        <location filename="../../desktop/widgets/drawer.py" line="88"/>
        <source>Notifications muted: only mentions and private messages alert you</source>
        <translation>已静音:只有提到你的消息和私信才会提醒</translation>
    </message>
    <message>
        <location filename="../../desktop/widgets/drawer.py" line="89"/>
        <source>Mute this room&apos;s notifications</source>
        <translation>将此房间的通知静音</translation>
    </message>
    <message>
        <location filename="../../desktop/widgets/drawer.py" line="92"/>
        <source>Show or hide the sidebar</source>
        <translation>显示或隐藏侧边栏</translation>
    </message>
</context>
<context>
    <name>Uploads</name>
    <message>
        <location filename="../../desktop/transfers.py" line="136"/>
        <source>This file cannot be read</source>
        <translation>无法读取此文件</translation>
    </message>
    <message>
        <location filename="../../desktop/transfers.py" line="172"/>
        <source>This server is an old version that does not take files</source>
        <translation>此服务器版本较旧,不支持文件</translation>
    </message>
    <message>
        <location filename="../../desktop/transfers.py" line="185"/>
        <source>Not sent: you left the room</source>
        <translation>未发送:你已离开房间</translation>
    </message>
    <message>
        <location filename="../../desktop/transfers.py" line="267"/>
        <source>The file changed or went away while it was sent</source>
        <translation>发送过程中文件被修改或已不存在</translation>
    </message>
</context>
</TS>
