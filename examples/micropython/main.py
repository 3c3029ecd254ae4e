"""The board's main.py: fill in your Wi-Fi, your app registration and the CA file, then reboot."""

from pico_w import PicoW
from presence_light import run

from deviceflow.micro import DeviceClient

client = DeviceClient(
    "YOUR-APPLICATION-CLIENT-ID",
    authority="https://login.microsoftonline.com/organizations",
    scopes="User.Read Presence.Read offline_access",
    store="token.json",
    ca="ca.der",  # the root CA of login.microsoftonline.com and graph.microsoft.com
)
run(PicoW("your-ssid", "your-wifi-password"), client)
