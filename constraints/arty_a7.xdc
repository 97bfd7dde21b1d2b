## Arty A7-35T and A7-100T: the pins of the LEAP board top level.
## Pins checked against Arty-A7-35-Master.xdc and Arty-A7-100-Master.xdc of the
## Digilent/digilent-xdc repository: 100 MHz clock on E3, FT2232HQ UART: the FPGA receives on A9
## (uart_txd_in) and sends on D10 (uart_rxd_out).

## 100 MHz oscillator, which clocks the design directly.
set_property -dict { PACKAGE_PIN E3 IOSTANDARD LVCMOS33 } [get_ports { clock_in }];
create_clock -add -name clock_in -period 10.000 -waveform {0 5} [get_ports { clock_in }];

## UART to the FT2232HQ.
set_property -dict { PACKAGE_PIN A9 IOSTANDARD LVCMOS33 } [get_ports { rx }];
set_property -dict { PACKAGE_PIN D10 IOSTANDARD LVCMOS33 } [get_ports { tx }];

## Configuration bank voltage, as on Digilent's master files.
set_property CONFIG_VOLTAGE 3.3 [current_design]
set_property CFGBVS VCCO [current_design]
